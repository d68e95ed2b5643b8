package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"layerwise/store"
)

// retentionRules is the answer of the retention rules endpoints; the body
// of a PUT gives rules or text (the settings form's lines), not both.
type retentionRules struct {
	Namespace string                `json:"namespace,omitempty"`
	Rules     []store.RetentionRule `json:"rules"`
	Text      *string               `json:"text,omitempty"`
	// Changed answers a PUT: false when the rules were already these.
	Changed *bool `json:"changed,omitempty"`
}

func (h *Handler) answerRules(c echo.Context, ns string, changed *bool) error {
	rules, err := h.Store.RetentionRules(c.Request().Context(), ns)
	if err != nil {
		return h.apiFail(c, err)
	}
	text := store.RulesText(rules)
	return c.JSON(http.StatusOK, retentionRules{Namespace: ns, Rules: rules, Text: &text, Changed: changed})
}

// APIRetentionRules is GET /api/v1/namespaces/{ns}/retentionrules.
func (h *Handler) APIRetentionRules(c echo.Context) error {
	ns, err := apiNamespace(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	return h.answerRules(c, ns, nil)
}

// APIPutRetentionRules is PUT /api/v1/namespaces/{ns}/retentionrules
// {"rules": [...]} or {"text": "^pr-\\d+$ keep 1\n..."}: replaces them
// (an empty list removes them), namespace admin only.
func (h *Handler) APIPutRetentionRules(c echo.Context) error {
	ns, err := apiNamespace(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	if err := apiNeed(c, ns, store.RoleAdmin); err != nil {
		return h.apiFail(c, err)
	}
	var body retentionRules
	if err := apiDecode(c, &body); err != nil {
		return h.apiFail(c, err)
	}
	rules := body.Rules
	switch {
	case body.Text != nil && body.Rules != nil:
		return h.apiFail(c, apiErrorf(http.StatusBadRequest, `give the rules as "rules" (a list) or as "text" (one rule per line), not both`))
	case body.Text != nil:
		if rules, err = store.ParseRetentionRules(*body.Text); err != nil {
			return h.apiFail(c, err)
		}
	case body.Rules == nil:
		return h.apiFail(c, apiErrorf(http.StatusBadRequest, `the body is {"rules": [...]} or {"text": "..."}; {"rules": []} removes every rule`))
	}
	if body.Changed != nil {
		return h.apiFail(c, apiErrorf(http.StatusBadRequest, `"changed" is an answer, not part of a request`))
	}
	if body.Namespace != "" && body.Namespace != ns {
		return h.apiFail(c, apiErrorf(http.StatusBadRequest, "the body names namespace %s, the path %s", body.Namespace, ns))
	}
	changed, err := h.Change.SetRetentionRules(c.Request().Context(), principal(c), ns, rules)
	if err != nil {
		return h.apiFail(c, err)
	}
	return h.answerRules(c, ns, &changed)
}
