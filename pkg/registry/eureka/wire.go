package eureka

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// The JSON that Eureka's REST API returns for GET /eureka/apps and
// /eureka/apps/delta with Accept: application/json, as Eureka's Jackson
// codec writes it (Netflix eureka: eureka-client/.../converters/
// EurekaJacksonCodec.java and jackson/serializer/ApplicationsJsonBeanSerializer.java):
//
//	{"applications": {"versions__delta": "1", "apps__hashcode": "UP_2_",
//	  "application": [{"name": "CART", "instance": [{
//	    "instanceId": "...", "hostName": "...", "app": "CART", "ipAddr": "10.0.0.1",
//	    "status": "UP", "overriddenStatus": "UNKNOWN",
//	    "port": {"$": 8080, "@enabled": "true"}, "securePort": {"$": 443, "@enabled": "false"},
//	    "dataCenterInfo": {"@class": "...", "name": "Amazon", "metadata": {"availability-zone": "us-east-1a"}},
//	    "metadata": {"zone": "z1"}, "vipAddress": "cart", "secureVipAddress": "cart",
//	    "actionType": "ADDED"}]}]}}
//
// Older servers (XStream's JSON) write a list of one as the bare object, and
// some clients write numbers and booleans as strings, so both are accepted.

type appsDoc struct {
	Applications apps `json:"applications"`
}

type apps struct {
	VersionsDelta flexString        `json:"versions__delta"`
	HashCode      string            `json:"apps__hashcode"`
	Application   oneOrMany[appDoc] `json:"application"`
}

type appDoc struct {
	Name     string                 `json:"name"`
	Instance oneOrMany[instanceDoc] `json:"instance"`
}

type instanceDoc struct {
	InstanceID       string            `json:"instanceId"`
	HostName         string            `json:"hostName"`
	App              string            `json:"app"`
	IPAddr           string            `json:"ipAddr"`
	Status           string            `json:"status"`
	Port             portDoc           `json:"port"`
	SecurePort       portDoc           `json:"securePort"`
	DataCenterInfo   dataCenterDoc     `json:"dataCenterInfo"`
	Metadata         map[string]string `json:"metadata"`
	VIPAddress       string            `json:"vipAddress"`
	SecureVIPAddress string            `json:"secureVipAddress"`
	ActionType       string            `json:"actionType"`
}

type portDoc struct {
	Port    flexString `json:"$"`
	Enabled flexString `json:"@enabled"`
}

type dataCenterDoc struct {
	Name     string            `json:"name"`
	Metadata map[string]string `json:"metadata"`
}

// id is the instance's identity in the registry, as Eureka's
// InstanceInfo.getId: the instanceId, else the host name.
func (i *instanceDoc) id() string {
	if i.InstanceID != "" {
		return i.InstanceID
	}
	return i.HostName
}

// appName is the application an instance belongs to, upper-cased as
// Eureka's InstanceInfo.Builder.setAppName stores it.
func appName(app *appDoc, i *instanceDoc) string {
	if i.App != "" {
		return strings.ToUpper(i.App)
	}
	return strings.ToUpper(app.Name)
}

// enabled reads "@enabled" ("true", true; absent means disabled for the
// secure port and enabled for the plain one, as Eureka's defaults are).
func (p portDoc) enabled(def bool) bool {
	if p.Enabled == "" {
		return def
	}
	return strings.EqualFold(string(p.Enabled), "true")
}

// number is the port, 0 if absent or not a port.
func (p portDoc) number() int {
	n, err := strconv.Atoi(string(p.Port))
	if err != nil || n < 1 || n > 65535 {
		return 0
	}
	return n
}

// flexString takes a JSON string, number or boolean as its text.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		*f = ""
		return nil
	}
	if len(b) == 0 || !(b[0] == '-' || b[0] == 't' || b[0] == 'f' || (b[0] >= '0' && b[0] <= '9')) {
		return fmt.Errorf("expected a string, number or boolean, got %.20s", b)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = flexString(strings.TrimSpace(string(b)))
	return nil
}

// oneOrMany takes a JSON list, a single object (a list of one, as XStream
// wrote it) or null.
type oneOrMany[T any] []T

func (o *oneOrMany[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*o = nil
		return nil
	case len(b) > 0 && b[0] == '[':
		var l []T
		if err := json.Unmarshal(b, &l); err != nil {
			return err
		}
		*o = l
		return nil
	}
	var one T
	if err := json.Unmarshal(b, &one); err != nil {
		return err
	}
	*o = oneOrMany[T]{one}
	return nil
}
