package api

import (
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// The local console (sunset serve --local) trusts whoever reaches it: its sign-in is a form, and
// --role signs in every request without a session. What keeps it local:
//   - it listens on loopback only (LoopbackAddr, checked by the CLI);
//   - it answers only requests addressed to a loopback name (the Host header), so a page on
//     another site that rebinds its own name to 127.0.0.1 gets nothing (421);
//   - every request that changes something must be same-origin as far as the browser says
//     (Sec-Fetch-Site, Origin: net/http's CrossOriginProtection), and an /api change must carry
//     a body type no cross-site form can send (JSON or YAML), so a page on another site cannot
//     make the browser change anything;
//   - the default identity (--role) is nobody's for a request the browser says came from
//     another site, so even a read there is a 401.
// In AWS none of this applies: the API takes only the JWT authorizer's bearer tokens (no
// ambient credential a browser would add), and the console's forms carry tokens bound to the
// session.

// LoopbackAddr reports whether addr (host:port, as for net.Listen) listens on loopback only:
// a loopback IP address or "localhost". Anything else (0.0.0.0, a LAN address, a name) is
// refused by `sunset serve`.
func LoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	return loopbackName(host)
}

// loopbackHost reports whether a request's Host header names this machine's loopback.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return loopbackName(strings.Trim(host, "[]"))
}

func loopbackName(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// crossSite reports whether the browser says the request came from another site (or another
// origin): Sec-Fetch-Site other than same-origin or none, or an Origin that is not this host's.
// A request with neither header (curl, the CLI) is not cross-site.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return true
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	_, host, ok := strings.Cut(o, "://")
	return !ok || o == "null" || !strings.EqualFold(host, r.Host)
}

// localRefusal is why the local console refuses r ("" when it does not).
func (s *Server) localRefusal(r *http.Request) (int, string) {
	if !loopbackHost(r.Host) {
		return http.StatusMisdirectedRequest, "This local console answers only to a loopback address (http://127.0.0.1:PORT or http://localhost:PORT), not to " + r.Host + "."
	}
	if err := s.crossOrigin.Check(r); err != nil {
		return http.StatusForbidden, "A change must come from this console's own pages: this request came from another site. Nothing was changed."
	}
	if strings.HasPrefix(r.URL.Path, "/api/") && !safeMethod(r.Method) && !apiBodyType(r.Header.Get("Content-Type")) {
		return http.StatusUnsupportedMediaType, "An API change must be sent as Content-Type: application/json (or application/yaml for a campaign file). Nothing was changed."
	}
	return 0, ""
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// apiBodyType reports whether a Content-Type is one a cross-site form cannot send without the
// browser asking first (which this server never allows): JSON or YAML.
func apiBodyType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	switch mt {
	case "application/json", "application/yaml", "application/x-yaml", "text/yaml":
		return true
	}
	return false
}
