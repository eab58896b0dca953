package admin

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// Role is what a token may do with the admin API.
type Role string

// Roles: a reader may read (GET, HEAD), an admin may do everything.
const (
	RoleReader Role = "reader"
	RoleAdmin  Role = "admin"
)

// tokenPrefix starts every token `gatehouse token create` makes, so that a
// leaked one is recognisable (secret scanners) and a hash line is never
// mistaken for one.
const tokenPrefix = "gh_"

// maxTokenLen bounds the bearer value hashed per request; tokens made by
// NewToken are 46 bytes.
const maxTokenLen = 256

// nameRE is a token's name: what logs and audit records call its holder.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// hashRE is a stored token: its SHA-256 in hex.
var hashRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// Token is one line of the tokens file.
type Token struct {
	hash [sha256.Size]byte
	Role Role
	Name string
}

// Tokens are the admin API's bearer tokens, stored as hashes.
type Tokens struct {
	list []Token
}

// LoadTokens reads a tokens file (see ParseTokens).
func LoadTokens(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--admin-tokens: %w", err)
	}
	defer f.Close()
	return ParseTokens(f, path)
}

// ParseTokens reads one token per line as "sha256:<hex> <role> <name>";
// blank lines and lines starting with '#' are skipped. A plaintext token, an
// unknown role, a bad name or a repeated hash or name is an error naming
// file:line; so is a file with no token.
func ParseTokens(r io.Reader, file string) (*Tokens, error) {
	t := &Tokens{}
	var errs []error
	seenHash := map[[sha256.Size]byte]int{}
	seenName := map[string]int{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s:%d: %s", file, n, fmt.Sprintf(format, args...)))
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			if len(f) > 0 && !hashRE.MatchString(f[0]) {
				bad("not a stored token; each line is \"sha256:<hex> <role> <name>\" (run gatehouse token create)")
			} else {
				bad("want 3 fields \"sha256:<hex> <role> <name>\", got %d", len(f))
			}
			continue
		}
		if !hashRE.MatchString(f[0]) {
			if strings.HasPrefix(f[0], tokenPrefix) || !strings.HasPrefix(f[0], "sha256:") {
				bad("the first field looks like a plaintext token: store its hash, sha256:<64 hex digits> (gatehouse token create prints the line), and never the token itself")
			} else {
				bad("the hash must be sha256: followed by 64 lowercase hex digits")
			}
			continue
		}
		role := Role(f[1])
		if role != RoleReader && role != RoleAdmin {
			bad("role %q: want reader or admin", f[1])
			continue
		}
		if !nameRE.MatchString(f[2]) {
			bad("name %q: letters, digits and . _ @ -, at most 64", f[2])
			continue
		}
		var tok Token
		hex.Decode(tok.hash[:], []byte(f[0][len("sha256:"):])) // checked by hashRE
		tok.Role, tok.Name = role, f[2]
		if prev, ok := seenHash[tok.hash]; ok {
			bad("the same token as line %d", prev)
			continue
		}
		if prev, ok := seenName[tok.Name]; ok {
			bad("name %q already used on line %d", tok.Name, prev)
			continue
		}
		seenHash[tok.hash], seenName[tok.Name] = n, n
		t.list = append(t.list, tok)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", file, err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(t.list) == 0 {
		return nil, fmt.Errorf("%s: no token: add a line made by gatehouse token create", file)
	}
	return t, nil
}

// lookup finds the token whose hash is the hash of bearer, comparing with
// every stored hash in constant time, so that timing tells nothing about
// how much of a hash matched or which line did.
func (t *Tokens) lookup(bearer string) (Token, bool) {
	sum := sha256.Sum256([]byte(bearer))
	var found Token
	ok := 0
	for _, tok := range t.list {
		if subtleEqual(sum[:], tok.hash[:]) {
			found, ok = tok, 1
		}
	}
	return found, ok == 1
}

// NewToken makes a random token and the tokens-file line that admits it.
func NewToken(role Role, name string) (token, line string, err error) {
	if role != RoleReader && role != RoleAdmin {
		return "", "", fmt.Errorf("--role %q: want reader or admin", role)
	}
	if !nameRE.MatchString(name) {
		return "", "", fmt.Errorf("--name %q: letters, digits and . _ @ -, at most 64", name)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(token))
	return token, "sha256:" + hex.EncodeToString(sum[:]) + " " + string(role) + " " + name, nil
}
