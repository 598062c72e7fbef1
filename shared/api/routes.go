package api

import "net/http"

// routes is every path the server answers: the JSON API, the console, and sign-in. Each
// handler names the role it needs; changes need the operator role.
func (s *Server) routes() {
	m := s.mux
	// The JSON API (docs/console.md lists each route with an example).
	m.HandleFunc("GET /api/campaigns", s.api(Viewer, s.apiCampaigns))
	m.HandleFunc("POST /api/campaigns", s.api(Operator, s.apiApply))
	m.HandleFunc("POST /api/campaigns/validate", s.api(Viewer, s.apiValidate))
	m.HandleFunc("GET /api/campaigns/{id}", s.api(Viewer, s.apiCampaign))
	m.HandleFunc("POST /api/campaigns/{id}/pause", s.api(Operator, s.apiStatus))
	m.HandleFunc("POST /api/campaigns/{id}/resume", s.api(Operator, s.apiStatus))
	m.HandleFunc("POST /api/campaigns/{id}/cancel", s.api(Operator, s.apiStatus))
	m.HandleFunc("POST /api/campaigns/{id}/extensions", s.api(Operator, s.apiExtend))
	m.HandleFunc("GET /api/campaigns/{id}/plan", s.api(Viewer, s.apiPlan))
	m.HandleFunc("GET /api/campaigns/{id}/preview", s.api(Viewer, s.apiPreview))
	m.HandleFunc("POST /api/campaigns/{id}/send-test", s.api(Operator, s.apiSendTest))
	m.HandleFunc("GET /api/campaigns/{id}/report", s.api(Viewer, s.apiReport))
	m.HandleFunc("GET /api/campaigns/{id}/report.csv", s.api(Viewer, s.apiReportCSV))
	m.HandleFunc("GET /api/campaigns/{id}/organisations", s.api(Viewer, s.apiOrganisations))
	m.HandleFunc("GET /api/campaigns/{id}/burndown.svg", s.api(Viewer, s.apiBurndownSVG))
	m.HandleFunc("GET /api/campaigns/{id}/burndown.csv", s.api(Viewer, s.apiBurndownCSV))
	m.HandleFunc("GET /api/campaigns/{id}/unassigned", s.api(Viewer, s.apiUnassigned))
	m.HandleFunc("GET /api/suppressed", s.api(Viewer, s.apiSuppressed))
	m.HandleFunc("GET /api/campaigns/{id}/answers", s.api(Viewer, s.apiAnswers))
	m.HandleFunc("POST /api/campaigns/{id}/disputes", s.api(Operator, s.apiDispute))
	m.HandleFunc("POST /api/campaigns/{id}/requests", s.api(Operator, s.apiRequest))
	m.HandleFunc("/api/", s.api(Viewer, func(http.ResponseWriter, *http.Request, Identity) (any, error) {
		return nil, &httpError{status: http.StatusNotFound, msg: "no such API route"}
	}))

	// The console.
	toConsole := func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/console/", http.StatusFound) }
	m.HandleFunc("GET /{$}", toConsole)
	m.HandleFunc("GET /console", toConsole) // API Gateway's /console/{proxy+} does not match /console itself
	m.HandleFunc("GET /console/{$}", s.page(Viewer, s.pageCampaigns))
	m.HandleFunc("GET /console/campaigns/{id}", s.page(Viewer, s.pageCampaign))
	m.HandleFunc("GET /console/campaigns/{id}/burndown.svg", s.page(Viewer, s.pageBurndownSVG))
	m.HandleFunc("GET /console/campaigns/{id}/burndown.csv", s.page(Viewer, s.pageBurndownCSV))
	m.HandleFunc("GET /console/campaigns/{id}/plan", s.page(Viewer, s.pagePlan))
	m.HandleFunc("GET /console/campaigns/{id}/unassigned", s.page(Viewer, s.pageUnassigned))
	m.HandleFunc("GET /console/campaigns/{id}/orgs/{ods}", s.page(Viewer, s.pageOrg))
	m.HandleFunc("GET /console/campaigns/{id}/orgs/{ods}/notices/{stage}", s.page(Viewer, s.pageNotice))
	m.HandleFunc("GET /console/campaigns/{id}/orgs/{ods}/notices/{stage}/email.html", s.page(Viewer, s.pageNoticeHTML))
	m.HandleFunc("POST /console/campaigns/{id}/orgs/{ods}/notices/{stage}/resend", s.page(Operator, s.postResend))
	m.HandleFunc("GET /console/campaigns/{id}/mails", s.page(Viewer, s.pageMails))
	m.HandleFunc("GET /console/campaigns/{id}/mails/{mail}", s.page(Viewer, s.pageMail))
	m.HandleFunc("GET /console/campaigns/{id}/mails/{mail}/email.html", s.page(Viewer, s.pageMailHTML))
	m.HandleFunc("GET /console/campaigns/{id}/{action}", s.page(Operator, s.pageConfirmStatus))
	m.HandleFunc("POST /console/campaigns/{id}/{action}", s.page(Operator, s.postStatus))
	m.HandleFunc("GET /console/campaigns/{id}/extend", s.page(Operator, s.pageExtend))
	m.HandleFunc("POST /console/campaigns/{id}/extend", s.page(Operator, s.postExtend))
	m.HandleFunc("GET /console/campaigns/{id}/orgs/{ods}/send-test", s.page(Operator, s.pageSendTest))
	m.HandleFunc("POST /console/campaigns/{id}/orgs/{ods}/send-test", s.page(Operator, s.postSendTest))
	m.HandleFunc("GET /console/apply", s.page(Operator, s.pageApply))
	m.HandleFunc("POST /console/apply", s.page(Operator, s.postApply))
	m.HandleFunc("GET /console/suppressed", s.page(Viewer, s.pageSuppressed))
	m.HandleFunc("GET /console/campaigns/{id}/answers", s.page(Viewer, s.pageAnswers))
	m.HandleFunc("POST /console/campaigns/{id}/disputes", s.page(Operator, s.postDispute))
	m.HandleFunc("POST /console/campaigns/{id}/requests", s.page(Operator, s.postRequest))
	m.HandleFunc("/console/", s.page(Viewer, func(w http.ResponseWriter, r *http.Request, v *view) error {
		return &httpError{status: http.StatusNotFound, msg: "There is no such page."}
	}))

	// The answer pages of the links in notices: public, the link's token is the authority.
	m.HandleFunc("GET /answer/{purpose}/{token}", s.answerGet)
	m.HandleFunc("POST /answer/{purpose}/{token}", s.answerPost)
	// Each organisation's live status page, linked from every notice: public, signed likewise.
	m.HandleFunc("GET /status/{token}", s.statusGet)

	// Signing in and out.
	m.HandleFunc("GET /auth/signin", s.signIn)
	m.HandleFunc("POST /auth/signin", s.localSignIn)
	m.HandleFunc("GET /auth/callback", s.callback)
	m.HandleFunc("POST /auth/signout", s.signOut)
}
