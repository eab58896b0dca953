package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
	"github.com/gatehouse-dev/gatehouse/pkg/client"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
)

// consumerAttempts bounds the read-modify-apply retries of a key change
// that lost a race with another change of the policy.
const consumerAttempts = 3

// editConsumer reads Consumer name from the server, lets edit change its
// document (a new one when there is none and create is set), and applies
// it based on the revision read, again if another change came first.
func editConsumer(ctx context.Context, c *client.Client, name string, create bool, edit func(doc *yaml.Node) error) (rev string, created bool, err error) {
	for attempt := 1; ; attempt++ {
		list, err := c.List(ctx, client.ListOptions{Kind: "Consumer"})
		if err != nil {
			return "", false, err
		}
		var doc *yaml.Node
		for _, o := range list.Items {
			if o.Name == name {
				objs, err := store.ParseObjects(o.Object)
				if err != nil {
					return "", false, fmt.Errorf("Consumer/%s as the server has it: %w", name, err)
				}
				doc = objs[0].Doc
			}
		}
		created = doc == nil
		if created {
			if !create {
				return "", false, fmt.Errorf("the server has no Consumer %q: see gatehouse consumer list", name)
			}
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(fmt.Sprintf("kind: Consumer\nname: %s\nspec: {}\n", yamlScalar(name))), &n); err != nil {
				return "", false, err
			}
			doc = n.Content[0]
		}
		if err := edit(doc); err != nil {
			return "", false, fmt.Errorf("Consumer/%s: %w", name, err)
		}
		text, err := store.Encode(doc)
		if err != nil {
			return "", false, err
		}
		res, err := c.Apply(ctx, []byte(text), client.WriteOptions{BaseRevision: list.Revision, Message: "consumer key change of " + name})
		if client.Conflict(err) && attempt < consumerAttempts {
			continue
		}
		if err != nil {
			return "", false, err
		}
		return res.Revision, created, nil
	}
}

// serverAddKey adds a key's digest to a Consumer on the server.
func serverAddKey(ctx context.Context, c *client.Client, name, id, digest string) (string, bool, error) {
	return editConsumer(ctx, c, name, true, func(doc *yaml.Node) error { return appendKey(doc, id, digest) })
}

func newConsumerKeyRevokeCmd() *cobra.Command {
	var remote remoteFlags
	cmd := &cobra.Command{
		Use:   "revoke NAME KEY-ID",
		Short: "Revoke one API key of a consumer on a server",
		Long: `Remove the key KEY-ID from the Consumer NAME's spec.apiKeys on a running
server. Envoy stops accepting it as soon as the new policy is served.

` + exitCodesHelp,
		Example: `  gatehouse consumer key revoke acme acme-20260101-1a2b`,
		Args:    usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := remote.client()
			if err != nil {
				return err
			}
			name, id := args[0], args[1]
			rev, _, err := editConsumer(cmd.Context(), c, name, false, func(doc *yaml.Node) error {
				keys := mapValue(mapValue(doc, "spec"), "apiKeys")
				if keys != nil && keys.Kind == yaml.SequenceNode {
					for i, k := range keys.Content {
						if v := mapValue(k, "id"); v != nil && v.Value == id {
							keys.Content = slices.Delete(keys.Content, i, i+1)
							return nil
						}
					}
				}
				return fmt.Errorf("no key with id %q: see gatehouse consumer key list %s", id, name)
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "key %q of consumer %s revoked (revision %s)\n", id, name, rev)
			return nil
		},
	}
	remote.add(cmd.Flags())
	return cmd
}

// consumerView is what the list verbs show of a Consumer.
type consumerView struct {
	Name string `json:"name"`
	Spec struct {
		APIKeys []struct {
			ID     string `json:"id"`
			SHA256 string `json:"sha256"`
		} `json:"apiKeys"`
		Groups []string `json:"groups"`
		Plan   string   `json:"plan"`
	} `json:"spec"`
}

func listConsumers(ctx context.Context, c *client.Client) ([]consumerView, error) {
	list, err := c.List(ctx, client.ListOptions{Kind: "Consumer"})
	if err != nil {
		return nil, err
	}
	out := make([]consumerView, 0, len(list.Items))
	for _, o := range list.Items {
		var v consumerView
		if err := jsonUnmarshal(o, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func newConsumerListCmd() *cobra.Command {
	var remote remoteFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the consumers on a server, with their plan, groups and key ids",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := remote.client()
			if err != nil {
				return err
			}
			cs, err := listConsumers(cmd.Context(), c)
			if err != nil {
				return err
			}
			rows := make([][]string, len(cs))
			for i, v := range cs {
				var ids []string
				for _, k := range v.Spec.APIKeys {
					ids = append(ids, k.ID)
				}
				rows[i] = []string{v.Name, orDash(v.Spec.Plan), orDash(strings.Join(v.Spec.Groups, ",")), orDash(strings.Join(ids, ","))}
			}
			printTable(cmd.OutOrStdout(), []string{"NAME", "PLAN", "GROUPS", "KEYS"}, rows)
			return nil
		},
	}
	remote.add(cmd.Flags())
	return cmd
}

func newConsumerKeyListCmd() *cobra.Command {
	var remote remoteFlags
	cmd := &cobra.Command{
		Use:   "list [NAME]",
		Short: "List API key ids and hash prefixes (never keys) of consumers on a server",
		Args:  usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := remote.client()
			if err != nil {
				return err
			}
			cs, err := listConsumers(cmd.Context(), c)
			if err != nil {
				return err
			}
			var rows [][]string
			found := false
			for _, v := range cs {
				if len(args) == 1 && v.Name != args[0] {
					continue
				}
				found = true
				for _, k := range v.Spec.APIKeys {
					rows = append(rows, []string{v.Name, k.ID, fit(k.SHA256, 17)})
				}
			}
			if len(args) == 1 && !found {
				return errors.New("the server has no Consumer " + args[0] + ": see gatehouse consumer list")
			}
			printTable(cmd.OutOrStdout(), []string{"CONSUMER", "KEY-ID", "SHA256"}, rows)
			return nil
		},
	}
	remote.add(cmd.Flags())
	return cmd
}

func jsonUnmarshal(o api.Object, v any) error {
	if err := json.Unmarshal(o.Object, v); err != nil {
		return fmt.Errorf("Consumer/%s as the server has it: %w", o.Name, err)
	}
	return nil
}
