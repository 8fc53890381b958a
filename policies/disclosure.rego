# Which fields of an L&D assessment summary a recipient may see, and why the rest are withheld.
#
# Entrypoint: data.gateway.disclosure.decision (bundle entrypoint "gateway/disclosure/decision").
#
# Input (built by gateway/policy/input.py; it carries no personal data and no clock: every time
# comparison, such as an override's expiry or the subject's age on the day, was made when the input was
# built):
#   {"recipient": {"agency_type", "agency_code"}, "purpose",
#    "subject": {"age", "age_group": "adult" | "child"},
#    "consent": {"status", "limited_to_agencies": [], "limited_to_purposes": [], "gillick_competent",
#                "best_interests_recorded": bool, "parental_responsibility": bool},
#    "overrides": [{"id", "basis", "recipients": [agency code]}]   (only those in force)}
#
# Output:
#   {"allow": bool, "released": [field id, sorted], "withheld": [{"field", "rule", "reason"}],
#    "obligations": [string], "overrides": [{"id", "basis"}] (relied on), "deny_reason": string | null,
#    "lawful_basis": [{"basis", "statute", "override_id"?}] (what an allowed disclosure rests on)}
#
# What may be seen is DATA (policies/data.json, the second edition of "What recipients need, by decision
# stage" in DOMAIN.md); this module only combines it. data.gateway.catalogue (every disclosable field id)
# is supplied by the engine from schemas/field-catalogue.json, so a field nobody names here is withheld
# (default deny).
#
# How a decision is made:
#   1. Deny outright (allow false, one deny_reason) for an unknown agency type, purpose or age group, a
#      purpose the agency type may not use, a child asked about by probation (under-18s go to the YOT),
#      an adult asked about by a YOT ("agency_types_denied_by_age_group"), or, without consent, when
#      nothing at all may be shared (health referral: no referral against the person's wishes).
#   2. Otherwise a field is released when a permission grants it for (purpose, agency type), or for
#      (age group, purpose, agency type) in "permissions_by_age_group", and no restriction removes it.
#      The most restrictive answer wins:
#        - prohibitions (data "prohibitions", optionally only for some age groups) remove a field
#          whatever else says;
#        - grants in "permissions_with_consent" need effective consent (below);
#        - without effective consent only the recipient's own minimum survives
#          ("minimum_without_consent"[purpose][agency type]), plus the minimised set ("override_fields")
#          of each lawful override that names this recipient.
#   3. Every other catalogue field is withheld with exactly one rule id: the first applicable one in the
#      order of data "rules" (most specific first; "not-needed-for-purpose" last).
#
# Consent (DOMAIN.md, "Law and governance"): consent is the normal route. When it is declined, withdrawn
# or not possible (lacks capacity), when none is recorded, when a child's consent is relied on without a
# Gillick competence assessment, or when the person limited it to other agencies or purposes, there is
# no consent for this disclosure. Then each recipient gets only the minimum that protects the person's
# participation and safety in the process (custody and charging: identity, communication needs,
# appropriate adult, fitness to be interviewed; court: identity, communication needs, intermediary,
# fitness-to-plead concerns, and the appropriate adult in the youth court; probation and YOT: identity
# and communication needs; health referral: nothing). Anything more without consent needs a lawful
# override recorded by an L&D practitioner: safeguarding (DPA 2018 Sch 1 para 18), prevention or
# detection of crime, serious harm, or emergency sharing (ICO data sharing code: risk to life, vital
# interests; identity, communication needs, risk and safeguarding only, whatever the consent, for at most
# 72 hours: the gateway refuses a longer one), naming its recipients and expiring. An override releases only its
# basis's minimised set, never a consent-only or prohibited field, and only what the purpose needs anyway.
# A child's "given" consent counts under 16 only when the child was assessed Gillick competent (true), at
# 16-17 unless the child was assessed as lacking capacity (false), and at any age under 18 when a person
# with parental responsibility decided; otherwise the minimum ("child-consent-not-competent"). An adult's
# consent given by someone else does not count ("consent-by-another-for-adult"). Age is judged on the
# day of the disclosure. A person who cannot consent (not-possible)
# with a recorded best-interests decision is treated as consenting for "best_interests_purposes" only
# (health referral: a care decision); for criminal justice purposes an override is the route.
#
# Identifiers by audience: criminal-justice identifiers (PNC ID, CRO, CRN, CJ agencies' case references)
# never go to health ("cj-identifiers-never-to-health"); a health agency's case reference never goes to a
# criminal justice agency, and the projection gives a health recipient only its own.
#
# Where the DOMAIN.md table left a choice, data.json encodes (docs/policy.md gives the reasons):
#   - "assessment.context" and "consent.status" (its status, scope and date only) go with every disclosure;
#   - youth rehabilitation order requirements (not in the table) go where adult treatment requirements
#     would, for children: court and YOT at sentencing, health at referral;
#   - who gave consent for a child (a person with parental responsibility) is family information:
#     health at referral only.
#
# rego-cpp (regopy) pitfalls met here: never read data.gateway whole (it contains this package, so
# evaluation reports recursion), and avoid `some i, x in ...` inside array comprehensions (rego-cpp
# does not parse it). Functions are slow in rego-cpp; prefer comprehensions over data.
#
# Lawful basis: every allowed decision names what it rests on (data "lawful_bases": each basis and its
# statute): the person's consent, or a best-interests decision standing in for it; without consent, the
# process minimum, and each lawful override relied on (with its id). A denial rests on nothing.
#
# Obligations: "refrain:NORDSCLCD" (no redisclosure without consent) and "refrain:NOREUSE" (no reuse beyond
# the purpose of use; both HL7 v3 RefrainPolicy) always, and one confidentiality code:
# "confidentiality:R" (restricted) for adults, "confidentiality:V" (very restricted) for children, whose
# data gets stricter defaults (ICO data sharing code).
package gateway.disclosure

import rego.v1

catalogue := {f | some f in data.gateway.catalogue}

minimum := {f | some f in data.gateway.minimum_without_consent[input.purpose][input.recipient.agency_type]}

agency_type := input.recipient.agency_type

purpose := input.purpose

age_group := input.subject.age_group

is_child if input.subject.age_group == "child"

# -- 1. Denials ------------------------------------------------------------------------------------

deny_reasons contains "unknown-agency-type" if not agency_type in data.gateway.agency_types

deny_reasons contains "unknown-purpose" if not purpose in data.gateway.purposes

deny_reasons contains "unknown-age-group" if not age_group in data.gateway.age_groups

deny_reasons contains "purpose-not-permitted-for-agency-type" if {
	agency_type in data.gateway.agency_types
	purpose in data.gateway.purposes
	not purpose in data.gateway.purposes_by_agency_type[agency_type]
}

deny_reasons contains reason if {
	reason := data.gateway.agency_types_denied_by_age_group[age_group][agency_type]
}

# Without consent some recipients get nothing at all (health referral: no referral against the person's
# wishes); an empty document would still say the person was assessed, so the answer is a refusal.
deny_reasons contains "nothing-to-share-without-consent" if {
	not consent_effective
	count(released_fields) == 0
}

# The first denial in data "deny_precedence" is the one reported.
deny_reason := [r | some r in data.gateway.deny_precedence; r in deny_reasons][0]

# -- 2. Consent ------------------------------------------------------------------------------------

# Each reason why the consent on record does not cover this disclosure; none means effective consent.
# The input's consent is the state at the moment of the decision: a withdrawal (status "withdrawn")
# stops every later disclosure that rested on consent.
consent_gaps contains gap if {
	not best_interests_cover
	gap := data.gateway.consent_gap_by_status[input.consent.status]
}

consent_gaps contains "consent-not-recorded-minimum" if not input.consent.status in data.gateway.consent_statuses

# A person who lacks capacity cannot consent; a recorded best-interests decision (Mental Capacity Act
# 2005 s4) stands in for consent, but only for the purposes it can speak to (care and treatment).
best_interests_cover if {
	input.consent.status == "not-possible"
	input.consent.best_interests_recorded == true
	purpose in data.gateway.best_interests_purposes
}

# Under 16, Gillick competence decides whether the child can consent; 16-17-year-olds are presumed to
# have capacity (Mental Capacity Act 2005 s1(2), s2(5)) unless assessed otherwise (gillick_competent
# false). For a child who cannot consent, a person with parental responsibility may.
consent_gaps contains "child-consent-not-competent" if {
	is_child
	input.subject.age < 16
	input.consent.status == "given"
	not input.consent.gillick_competent == true
	not input.consent.parental_responsibility == true
}

consent_gaps contains "child-consent-not-competent" if {
	is_child
	input.subject.age >= 16
	input.consent.status == "given"
	input.consent.gillick_competent == false
	not input.consent.parental_responsibility == true
}

# An adult's consent is their own: parental responsibility ends at 18 (judged on the day of disclosure).
consent_gaps contains "consent-by-another-for-adult" if {
	not is_child
	input.consent.parental_responsibility == true
}

consent_gaps contains "consent-limited-to-other-agency" if {
	count(input.consent.limited_to_agencies) > 0
	not input.recipient.agency_code in input.consent.limited_to_agencies
}

consent_gaps contains "consent-limited-to-other-purpose" if {
	count(input.consent.limited_to_purposes) > 0
	not purpose in input.consent.limited_to_purposes
}

consent_effective if count(consent_gaps) == 0

# -- 3. Lawful overrides ---------------------------------------------------------------------------

# An override recorded by the L&D service (basis, recipients, expiry) that names this recipient. The
# input lists only the overrides in force at the moment of the decision (not expired).
applicable_overrides contains {"id": o.id, "basis": o.basis} if {
	some o in input.overrides
	o.basis in data.gateway.override_bases
	input.recipient.agency_code in o.recipients
}

# An override is relied on only when consent does not cover the disclosure; every such disclosure is
# flagged for IG review by the gateway.
relied_on_overrides contains o if {
	not consent_effective
	some o in applicable_overrides
}

override_fields contains f if {
	some o in relied_on_overrides
	some f in data.gateway.override_fields[o.basis]
}

# -- 4. Grants and restrictions --------------------------------------------------------------------

granted contains f if some f in data.gateway.permissions[purpose][agency_type]

granted contains f if some f in data.gateway.permissions_by_age_group[age_group][purpose][agency_type]

consent_granted contains f if some f in data.gateway.permissions_with_consent[purpose][agency_type]

permitted contains f if some f in granted

permitted contains f if {
	consent_effective
	some f in consent_granted
}

# A prohibition with "age_groups" applies to those age groups only; without, to everyone.
applies_to_age(p) if not p.age_groups

applies_to_age(p) if age_group in p.age_groups

prohibited contains {"field": f, "rule": p.rule} if {
	some p in data.gateway.prohibitions
	agency_type in p.agency_types
	applies_to_age(p)
	some f in p.fields
}

prohibited contains {"field": f, "rule": p.rule} if {
	some p in data.gateway.prohibitions
	agency_type in p.agency_types
	applies_to_age(p)
	some prefix in p.field_prefixes
	some f in catalogue
	startswith(f, prefix)
}

prohibited_fields := {p.field | some p in prohibited}

removed contains f if some f in prohibited_fields

removed contains f if {
	not consent_effective
	some f in catalogue
	not f in minimum
	not f in override_fields
}

released_fields := {f |
	some f in permitted
	f in catalogue
	not f in removed
}

# -- 5. Why each other field is withheld -----------------------------------------------------------

withheld_candidates contains p if some p in prohibited

withheld_candidates contains {"field": f, "rule": "clinical-needs-consent"} if {
	not consent_effective
	some f in consent_granted
}

withheld_candidates contains {"field": f, "rule": r} if {
	some f in granted
	not f in minimum
	some r in consent_gaps
}

# Each basis relied on names its own minimising rule ("override_minimised_rule"; an emergency's is
# "emergency-minimised"), "override-minimised" by default.
withheld_candidates contains {"field": f, "rule": rule} if {
	some o in relied_on_overrides
	rule := object.get(data.gateway.override_minimised_rule, o.basis, "override-minimised")
	some f in granted
	not f in minimum
}

reasons := {r.id: r.reason | some r in data.gateway.rules}

# The most specific rule that withholds each field: the first in the order of data "rules" among those
# that apply to it; a field that no specific rule names is simply not needed for this purpose.
# (Ordered by position in the list, never by comparing numbers: rego-cpp's min() compares 11 < 3.)
withheld_rule := {f: rule_id |
	some f in catalogue
	not f in released_fields
	applying := {c.rule | some c in withheld_candidates; c.field == f} | {"not-needed-for-purpose"}
	rule_id := [r.id | some r in data.gateway.rules; r.id in applying][0]
}

withheld := [w |
	some f in sort(catalogue)
	rule_id := withheld_rule[f]
	w := {"field": f, "rule": rule_id, "reason": withheld_reason(rule_id)}
]

# Consent-only clinical fields are withheld whatever the gap in consent (declined, withdrawn, limited to
# other agencies or purposes, a child's own consent not relied on, ...), so their reason says which gap:
# "has not been given" would be untrue of a consent given but limited. The first gap in the order of
# data "rules" is named (the one the other withheld fields name too).
first_consent_gap := [r.id | some r in data.gateway.rules; r.id in consent_gaps][0]

withheld_reason(rule_id) := concat(" ", [reasons[rule_id], data.gateway.consent_gap_explanations[first_consent_gap]]) if {
	rule_id == "clinical-needs-consent"
}

withheld_reason(rule_id) := reasons[rule_id] if rule_id != "clinical-needs-consent"

# -- 6. The lawful basis ---------------------------------------------------------------------------

default consent_basis := "consent"

consent_basis := "best-interests" if best_interests_cover

# What the disclosure rests on besides overrides: consent (or a best-interests decision) when it covers
# the disclosure; otherwise the process minimum, when any of it is released.
base_bases contains consent_basis if consent_effective

base_bases contains "process-minimum" if {
	not consent_effective
	some f in released_fields
	f in minimum
}

# Consent or the minimum first, then each override relied on in id order (a stable order: the log
# entry's bytes must not depend on the engine).
lawful_basis := array.concat(
	[{"basis": b, "statute": data.gateway.lawful_bases[b].statute} | some b in base_bases],
	[{"basis": o.basis, "statute": data.gateway.lawful_bases[o.basis].statute, "override_id": o.id} |
		some id in sort({o.id | some o in relied_on_overrides})
		some o in relied_on_overrides
		o.id == id
	],
)

# -- 7. Obligations and the decision ---------------------------------------------------------------

obligations := array.concat(data.gateway.obligations.always, [data.gateway.obligations.confidentiality[age_group]])

default decision := {
	"allow": false,
	"released": [],
	"withheld": [],
	"obligations": [],
	"overrides": [],
	"deny_reason": "undefined",
	"lawful_basis": [],
}

decision := {
	"allow": false,
	"released": [],
	"withheld": [],
	"obligations": [],
	"overrides": [],
	"deny_reason": deny_reason,
	"lawful_basis": [],
} if {
	count(deny_reasons) > 0
}

decision := {
	"allow": true,
	"released": sort(released_fields),
	"withheld": withheld,
	"obligations": obligations,
	"overrides": [o | some id in sort({o.id | some o in relied_on_overrides}); some o in relied_on_overrides; o.id == id],
	"deny_reason": null,
	"lawful_basis": lawful_basis,
} if {
	count(deny_reasons) == 0
}
