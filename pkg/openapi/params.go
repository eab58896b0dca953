package openapi

import (
	"net/http"
	"net/url"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

// repeated refuses a query, header or cookie parameter given more than
// once when the document declares a single value. kin-openapi validates
// the first value only, while an upstream may read the last one (HTTP
// parameter pollution: ?status=sold&status=' OR 1=1 would pass with the
// second value unchecked).
func repeated(route *routers.Route, q url.Values, req *http.Request) *failure {
	count := func(p *openapi3.Parameter) int {
		switch p.In {
		case openapi3.ParameterInQuery:
			return len(q[p.Name])
		case openapi3.ParameterInHeader:
			return len(req.Header.Values(p.Name))
		case openapi3.ParameterInCookie:
			return len(req.CookiesNamed(p.Name))
		}
		return 0
	}
	check := func(params openapi3.Parameters) *failure {
		for _, ref := range params {
			p := ref.Value
			if p == nil || count(p) < 2 {
				continue
			}
			if p.In == openapi3.ParameterInQuery {
				if s := p.Schema; s != nil && s.Value != nil && (s.Value.Type.Is("array") || s.Value.Type.Is("object")) {
					continue
				}
			}
			return &failure{status: http.StatusBadRequest, location: p.In, field: clip(p.Name), reason: "the parameter takes one value and was given several"}
		}
		return nil
	}
	if f := check(route.PathItem.Parameters); f != nil {
		return f
	}
	return check(route.Operation.Parameters)
}
