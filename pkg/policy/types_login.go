package policy

// OAuth2LoginAuth signs browsers in with the OAuth2 authorization-code
// flow (PKCE) run by Envoy's OAuth2 filter: a browser without a valid
// session cookie is redirected to AuthorizationEndpoint, the callback at
// RedirectPath exchanges the code at TokenEndpoint, and later requests
// carry the access token as Authorization: Bearer. The filter checks only
// its own cookies (their HMAC and expiry): the token it forwards is
// verified, and the Consumer named, by the Route's jwt or
// oauth2Introspection Authentication, which every Route using login must
// also list. Requests that already carry Authorization: Bearer (API
// callers) skip the login filter and go straight to that verification.
type OAuth2LoginAuth struct {
	// Issuer (optional): the OpenID Connect issuer whose discovery
	// document (<issuer>/.well-known/openid-configuration) gives the
	// authorization, token and end-session endpoints not written here.
	Issuer                string `yaml:"issuer"`
	AuthorizationEndpoint string `yaml:"authorizationEndpoint"` // https URL the browser is sent to
	TokenEndpoint         string `yaml:"tokenEndpoint"`         // https URL Envoy exchanges the code at
	// EndSessionEndpoint (optional, OpenID Connect RP-initiated logout):
	// where LogoutPath sends the browser after clearing the cookies.
	// Envoy accepts it only with the openid scope.
	EndSessionEndpoint string `yaml:"endSessionEndpoint"`
	// AllowInsecureHTTP is the explicit opt-in for a plain-http token
	// endpoint (the code and client secret would cross the network in
	// clear). Never for the browser side: cookies are always Secure.
	AllowInsecureHTTP bool   `yaml:"allowInsecureHTTP"`
	ClientID          string `yaml:"clientId"`
	// ClientSecretFile and HMACSecretFile hold the client secret and the
	// key that signs the session cookies (relative to the file naming
	// them). Both go to Envoy only over SDS. Every gatehouse replica reads
	// the same files, so all proxies sign and accept the same cookies.
	// Inline values exist only to be rejected with a clear message.
	ClientSecretFile string `yaml:"clientSecretFile"`
	ClientSecret     string `yaml:"clientSecret"`
	HMACSecretFile   string `yaml:"hmacSecretFile"`
	HMACSecret       string `yaml:"hmacSecret"`
	// RedirectPath is the callback path registered at the identity
	// provider (default /oauth2/callback); the redirect URI is
	// https://<request host><RedirectPath>, or RedirectURI if set (an
	// absolute https URL whose path is RedirectPath).
	RedirectPath string `yaml:"redirectPath"`
	RedirectURI  string `yaml:"redirectURI"`
	// LogoutPath clears the session cookies (default /oauth2/logout).
	LogoutPath string   `yaml:"logoutPath"`
	Scopes     []string `yaml:"scopes"` // default [openid]
	// SameSite of the session cookies: Lax (default) or Strict. None is
	// refused: it would send the session with cross-site requests.
	SameSite string `yaml:"sameSite"`

	// Filled by Load: the files' paths relative to the policy directory
	// and their contents (trailing newline removed), which print and
	// marshal as "[redacted]".
	ClientSecretPath  string `yaml:"-" json:"-"`
	ClientSecretValue Secret `yaml:"-" json:"-"`
	HMACSecretPath    string `yaml:"-" json:"-"`
	HMACSecretValue   Secret `yaml:"-" json:"-"`
}

// Defaults of an oauth2Login Authentication.
const (
	DefaultLoginRedirectPath = "/oauth2/callback"
	DefaultLoginLogoutPath   = "/oauth2/logout"
	DefaultLoginSameSite     = "Lax"
)

// LoginScopes is the scopes asked for (default openid).
func (l *OAuth2LoginAuth) LoginScopes() []string {
	if len(l.Scopes) == 0 {
		return []string{"openid"}
	}
	return l.Scopes
}

// Redirect is the callback path.
func (l *OAuth2LoginAuth) Redirect() string {
	if l.RedirectPath == "" {
		return DefaultLoginRedirectPath
	}
	return l.RedirectPath
}

// Logout is the logout path.
func (l *OAuth2LoginAuth) Logout() string {
	if l.LogoutPath == "" {
		return DefaultLoginLogoutPath
	}
	return l.LogoutPath
}

// CookieSameSite is Lax or Strict.
func (l *OAuth2LoginAuth) CookieSameSite() string {
	if l.SameSite == "" {
		return DefaultLoginSameSite
	}
	return l.SameSite
}
