# Unit tests for gateway.disclosure. Run with `ld-gateway policy test` (regorus).
#
# Kept in their own package and file, and never loaded into the production engine: rego-cpp (regopy)
# crashes the process on tests that use `with input as`.
package gateway.disclosure_test

import rego.v1

import data.gateway.disclosure

# -- helpers ---------------------------------------------------------------------------------------

request(agency_type, purpose) := {
	"recipient": {"agency_type": agency_type, "agency_code": "AGENCY-1"},
	"purpose": purpose,
	"subject": {"age": 34, "age_group": "adult"},
	"consent": {
		"status": "given",
		"limited_to_agencies": [],
		"limited_to_purposes": [],
		"gillick_competent": null,
	},
}

with_consent(req, consent) := object.union(req, {"consent": consent})

as_adult(req) := req

as_child(req, gillick) := object.union(req, {
	"subject": {"age": 15, "age_group": "child"},
	"consent": {"gillick_competent": gillick},
})

# Every input a test decides goes through here; `ld-gateway policy test` collects the printed inputs
# (rules exercised, and the differential test that replays them on both embedded engines).
decide(req) := d if {
	print("ld-gateway:case", json.marshal(req))
	d := disclosure.decision with input as req
}

rule_for(d, field) := [w.rule | some w in d.withheld; w.field == field][0]

allowed_pairs contains [agency, purpose] if {
	some agency, purposes in data.gateway.purposes_by_agency_type
	some purpose in purposes
}

# Without consent a health referral shares nothing (refused); every other pair has a minimum.
cj_pairs := {p | some p in allowed_pairs; p[0] != "health"}

consents := [
	{"status": "given"},
	{"status": "declined"},
	{"status": "withdrawn"},
	{"status": "not-possible"},
	{"status": "given", "limited_to_agencies": ["SOMEONE-ELSE"]},
]

# The subject a recipient may be asked about at all: a YOT only ever about a child.
subject_for(agency, req) := as_child(req, true) if agency == "yot"

subject_for(agency, req) := req if agency != "yot"

# -- police in custody (PACE) ----------------------------------------------------------------------

test_police_custody_gets_the_custody_set_only if {
	d := decide(request("police", "custody"))
	d.allow
	every f in ["needs.appropriate_adult", "needs.communication", "fitness.interview", "risk.assessment", "risk.safeguarding", "vulnerability.summary", "identity.pnc_id"] {
		f in d.released
	}
	not "fitness.plead" in d.released
	not "diversion.suitability" in d.released
	not "referrals.made" in d.released
	not "needs.intermediary" in d.released
	rule_for(d, "fitness.plead") == "not-needed-for-purpose"
	rule_for(d, "clinical.capacity") == "clinical-never-to-police-cps"
}

test_police_custody_without_consent_keeps_the_pace_minimum if {
	d := decide(with_consent(request("police", "custody"), {"status": "declined"}))
	d.allow
	"needs.appropriate_adult" in d.released
	"fitness.interview" in d.released
	"needs.communication" in d.released
	not "risk.assessment" in d.released
	rule_for(d, "risk.assessment") == "consent-declined-minimum"
}

test_cps_may_not_use_custody if {
	d := decide(request("cps", "custody"))
	not d.allow
	d.deny_reason == "purpose-not-permitted-for-agency-type"
}

# -- identifiers by audience -----------------------------------------------------------------------

test_cj_identifiers_never_to_health if {
	d := decide(request("health", "health-referral"))
	every f in ["identity.pnc_id", "identity.cro_number", "identity.crn", "identity.cj_case_references"] {
		not f in d.released
		rule_for(d, f) == "cj-identifiers-never-to-health"
	}
	"identity.health_case_reference" in d.released
}

test_health_case_reference_never_to_criminal_justice if {
	every agency in ["police", "cps", "court", "probation", "yot"] {
		every purpose in data.gateway.purposes_by_agency_type[agency] {
			d := decide(subject_for(agency, request(agency, purpose)))
			not "identity.health_case_reference" in d.released
			rule_for(d, "identity.health_case_reference") == "health-case-reference-never-to-cjs"
			"identity.cj_case_references" in d.released
		}
	}
}

# -- police and CPS at charging --------------------------------------------------------------------

test_police_charging_releases_appropriate_adult_and_communication_needs if {
	d := decide(request("police", "charging"))
	d.allow
	"needs.appropriate_adult" in d.released
	"needs.communication" in d.released
	"needs.intermediary" in d.released
	"fitness.interview" in d.released
	"diversion.suitability" in d.released
}

test_police_charging_never_gets_diagnoses_or_third_party if {
	d := decide(request("police", "charging"))
	not "clinical.diagnoses" in d.released
	not "clinical.detail" in d.released
	not "third_party.information" in d.released
	rule_for(d, "clinical.diagnoses") == "clinical-never-to-police-cps"
	rule_for(d, "clinical.detail") == "clinical-never-to-police-cps"
	rule_for(d, "third_party.information") == "third-party-never-to-cjs"
}

test_cps_charging_matches_police if {
	police := decide(request("police", "charging"))
	cps := decide(request("cps", "charging"))
	cps.allow
	cps.released == police.released
}

test_treatment_requirements_not_needed_at_charging if {
	d := decide(request("cps", "charging"))
	rule_for(d, "treatment.requirements") == "not-needed-for-purpose"
}

# Most restrictive wins: a prohibition beats a permission, even one mistakenly added to the data.
test_prohibition_beats_a_permission if {
	granted := array.concat(data.gateway.permissions.charging.police, ["clinical.diagnoses", "third_party.information"])
	d := disclosure.decision with input as request("police", "charging")
		with data.gateway.permissions.charging.police as granted
	not "clinical.diagnoses" in d.released
	not "third_party.information" in d.released
	rule_for(d, "clinical.diagnoses") == "clinical-never-to-police-cps"
}

# -- courts, probation and YOTs --------------------------------------------------------------------

test_court_case_management_gets_diagnoses_with_consent_but_never_detail if {
	d := decide(request("court", "case-management"))
	"clinical.diagnoses" in d.released
	not "clinical.detail" in d.released
	rule_for(d, "clinical.detail") == "not-needed-for-purpose"
	not "needs.appropriate_adult" in d.released
	"fitness.plead" in d.released
	not "referrals.made" in d.released
}

test_youth_court_learns_of_the_appropriate_adult_even_without_consent if {
	every consent in consents {
		d := decide(with_consent(as_child(request("court", "case-management"), true), consent))
		"needs.appropriate_adult" in d.released
	}
}

test_court_without_consent_keeps_intermediary_and_fitness_to_plead if {
	every purpose in ["case-management", "sentencing"] {
		d := decide(with_consent(request("court", purpose), {"status": "withdrawn"}))
		"needs.intermediary" in d.released
		"fitness.plead" in d.released
		"needs.communication" in d.released
		not "vulnerability.summary" in d.released
	}
}

test_court_case_management_without_consent_withholds_diagnoses if {
	d := decide(with_consent(request("court", "case-management"), {"status": "declined"}))
	not "clinical.diagnoses" in d.released
	rule_for(d, "clinical.diagnoses") == "clinical-needs-consent"
}

test_court_sentencing_gets_treatment_requirements_but_no_clinical if {
	d := decide(request("court", "sentencing"))
	"treatment.requirements" in d.released
	"referrals.made" in d.released
	not "clinical.diagnoses" in d.released
	not "needs.appropriate_adult" in d.released
	rule_for(d, "clinical.diagnoses") == "not-needed-for-purpose"
	rule_for(d, "treatment.youth_requirements") == "youth-requirements-children-only"
}

test_treatment_requirements_are_for_adults_and_youth_requirements_for_children if {
	child := decide(as_child(request("court", "sentencing"), true))
	not "treatment.requirements" in child.released
	rule_for(child, "treatment.requirements") == "treatment-requirements-adults-only"
	"treatment.youth_requirements" in child.released
	yot := decide(as_child(request("yot", "sentencing"), true))
	"treatment.youth_requirements" in yot.released
	not "treatment.requirements" in yot.released
}

test_probation_sentencing_with_consent_gets_diagnoses_and_detail if {
	d := decide(request("probation", "sentencing"))
	d.allow
	"clinical.diagnoses" in d.released
	"clinical.detail" in d.released
	"clinical.capacity" in d.released
	"treatment.requirements" in d.released
}

test_yot_sentencing_gets_diagnoses_with_consent_but_never_clinical_detail if {
	d := decide(as_child(request("yot", "sentencing"), true))
	"clinical.diagnoses" in d.released
	not "clinical.detail" in d.released
	not "clinical.capacity" in d.released
	rule_for(d, "clinical.capacity") == "not-needed-for-purpose"
}

test_probation_sentencing_without_consent_gets_no_diagnoses if {
	d := decide(with_consent(request("probation", "sentencing"), {"status": "declined"}))
	d.allow
	not "clinical.diagnoses" in d.released
	not "clinical.detail" in d.released
	rule_for(d, "clinical.diagnoses") == "clinical-needs-consent"
	rule_for(d, "treatment.requirements") == "consent-declined-minimum"
}

test_probation_case_management_gets_referrals_but_no_clinical if {
	d := decide(request("probation", "case-management"))
	"referrals.made" in d.released
	"referrals.engagement" in d.released
	not "clinical.diagnoses" in d.released
}

test_third_party_never_to_criminal_justice if {
	every agency in ["police", "cps", "court", "probation", "yot"] {
		every purpose in data.gateway.purposes_by_agency_type[agency] {
			d := decide(subject_for(agency, request(agency, purpose)))
			rule_for(d, "third_party.information") == "third-party-never-to-cjs"
			rule_for(d, "consent.given_by") == "third-party-never-to-cjs"
		}
	}
}

# -- health ----------------------------------------------------------------------------------------

test_health_referral_gets_clinical_and_minimised_third_party if {
	d := decide(request("health", "health-referral"))
	"clinical.diagnoses" in d.released
	"clinical.detail" in d.released
	"clinical.capacity" in d.released
	"treatment.requirements" in d.released
	"third_party.information" in d.released
	"consent.given_by" in d.released
	not "diversion.suitability" in d.released
	not "fitness.interview" in d.released
}

test_health_referral_without_consent_shares_nothing if {
	every status in ["declined", "withdrawn", "not-possible"] {
		d := decide(with_consent(request("health", "health-referral"), {"status": status}))
		not d.allow
		d.deny_reason == "nothing-to-share-without-consent"
		d.released == []
	}
}

# -- consent ---------------------------------------------------------------------------------------

minimum_for(req) := {f |
	some f in data.gateway.permissions[req.purpose][req.recipient.agency_type]
	f in data.gateway.minimum_without_consent[req.purpose][req.recipient.agency_type]
}

test_consent_declined_releases_only_the_minimum if {
	every pair in cj_pairs {
		req := with_consent(subject_for(pair[0], request(pair[0], pair[1])), {"status": "declined"})
		d := decide(req)
		d.allow
		{f | some f in d.released} == minimum_for(req)
		"needs.communication" in d.released
	}
}

test_consent_withdrawn_and_not_possible_release_what_declined_releases if {
	declined := decide(with_consent(request("probation", "sentencing"), {"status": "declined"}))
	every pair in [["withdrawn", "consent-withdrawn-minimum"], ["not-possible", "consent-not-possible-minimum"]] {
		d := decide(with_consent(request("probation", "sentencing"), {"status": pair[0]}))
		d.released == declined.released
		rule_for(d, "referrals.made") == pair[1]
	}
}

test_without_consent_risk_and_the_summary_need_an_override if {
	d := decide(with_consent(request("police", "charging"), {"status": "declined"}))
	not "risk.assessment" in d.released
	not "vulnerability.summary" in d.released
	"needs.appropriate_adult" in d.released
	"fitness.interview" in d.released
	d.overrides == []
}

# -- best interests (lacks capacity) ---------------------------------------------------------------

test_best_interests_decision_stands_in_for_consent_at_health_referral if {
	d := decide(with_consent(request("health", "health-referral"), {"status": "not-possible", "best_interests_recorded": true}))
	full := decide(request("health", "health-referral"))
	d.released == full.released
	bases_of(d) == ["best-interests"]
}

test_best_interests_decision_does_not_cover_criminal_justice_purposes if {
	d := decide(with_consent(request("probation", "sentencing"), {"status": "not-possible", "best_interests_recorded": true}))
	not "clinical.diagnoses" in d.released
	rule_for(d, "referrals.made") == "consent-not-possible-minimum"
}

test_not_possible_without_a_best_interests_decision_is_the_minimum if {
	req := with_consent(request("court", "sentencing"), {"status": "not-possible", "best_interests_recorded": false})
	d := decide(req)
	{f | some f in d.released} == minimum_for(req)
	health := decide(with_consent(request("health", "health-referral"), {"status": "not-possible", "best_interests_recorded": false}))
	not health.allow
}

# -- lawful overrides ------------------------------------------------------------------------------

with_override(req, basis, recipients) := object.union(req, {"overrides": [{"id": "ovr-1", "basis": basis, "recipients": recipients}]})

test_safeguarding_override_releases_its_minimised_set_and_is_reported if {
	req := with_override(with_consent(request("police", "charging"), {"status": "declined"}), "safeguarding", ["AGENCY-1"])
	d := decide(req)
	d.allow
	"risk.safeguarding" in d.released
	"risk.assessment" in d.released
	"vulnerability.summary" in d.released
	not "diversion.suitability" in d.released
	not "clinical.diagnoses" in d.released
	rule_for(d, "diversion.suitability") == "override-minimised"
	d.overrides == [{"id": "ovr-1", "basis": "safeguarding"}]
}

test_override_releases_only_minimum_plus_its_basis_set_within_the_purpose if {
	every basis in data.gateway.override_bases {
		every pair in allowed_pairs {
			req := with_override(with_consent(subject_for(pair[0], request(pair[0], pair[1])), {"status": "withdrawn"}), basis, ["AGENCY-1"])
			d := decide(req)
			minimum := object.get(data.gateway.minimum_without_consent, [pair[1], pair[0]], [])
			allowed := {f |
				some f in data.gateway.permissions[pair[1]][pair[0]]
				some g in array.concat(minimum, data.gateway.override_fields[basis])
				f == g
			}
			{f | some f in d.released} == allowed
		}
	}
}

test_override_never_releases_a_consent_only_or_prohibited_field if {
	every basis in data.gateway.override_bases {
		every req in [request("probation", "sentencing"), request("court", "case-management"), request("police", "charging")] {
			d := decide(with_override(with_consent(req, {"status": "declined"}), basis, ["AGENCY-1"]))
			not "clinical.diagnoses" in d.released
			not "clinical.detail" in d.released
			not "third_party.information" in d.released
		}
	}
}

test_override_for_another_recipient_does_nothing if {
	plain := decide(with_consent(request("police", "charging"), {"status": "declined"}))
	d := decide(with_override(with_consent(request("police", "charging"), {"status": "declined"}), "safeguarding", ["OTHER"]))
	d.released == plain.released
	d.overrides == []
}

test_override_with_an_unknown_basis_does_nothing if {
	plain := decide(with_consent(request("police", "charging"), {"status": "declined"}))
	d := decide(with_override(with_consent(request("police", "charging"), {"status": "declined"}), "curiosity", ["AGENCY-1"]))
	d.released == plain.released
	d.overrides == []
}

test_override_is_not_relied_on_when_consent_covers_the_disclosure if {
	full := decide(request("police", "charging"))
	d := decide(with_override(request("police", "charging"), "serious-harm", ["AGENCY-1"]))
	d.released == full.released
	d.overrides == []
}

test_override_does_not_lift_a_denial if {
	d := decide(with_override(as_child(request("probation", "sentencing"), true), "safeguarding", ["AGENCY-1"]))
	not d.allow
	d.overrides == []
}

test_overrides_are_reported_in_id_order if {
	req := object.union(with_consent(request("police", "charging"), {"status": "declined"}), {"overrides": [
		{"id": "b", "basis": "serious-harm", "recipients": ["AGENCY-1"]},
		{"id": "a", "basis": "crime-prevention-detection", "recipients": ["AGENCY-1"]},
	]})
	d := decide(req)
	d.overrides == [{"id": "a", "basis": "crime-prevention-detection"}, {"id": "b", "basis": "serious-harm"}]
}

# -- emergency sharing (ICO data sharing code: risk to life) ---------------------------------------

test_an_emergency_adds_only_risk_and_safeguarding_to_the_police_minimum if {
	req := with_override(with_consent(request("police", "custody"), {"status": "declined"}), "emergency", ["AGENCY-1"])
	d := decide(req)
	d.allow
	{f | some f in d.released} == minimum_for(req) | {"risk.assessment", "risk.safeguarding"}
	rule_for(d, "vulnerability.summary") == "emergency-minimised"
	d.overrides == [{"id": "ovr-1", "basis": "emergency"}]
	d.lawful_basis[1] == {"basis": "emergency", "statute": data.gateway.lawful_bases.emergency.statute, "override_id": "ovr-1"}
}

test_an_emergency_reaches_a_health_recipient_whatever_the_consent if {
	every consent in [{"status": "declined"}, {"status": "withdrawn"}, {"status": "not-possible", "best_interests_recorded": false}] {
		req := with_override(with_consent(request("health", "health-referral"), consent), "emergency", ["AGENCY-1"])
		d := decide(req)
		d.allow
		{f | some f in d.released} == {"identity.name", "identity.date_of_birth", "identity.nhs_number", "needs.communication", "risk.assessment", "risk.safeguarding"}
		d.lawful_basis == [{"basis": "emergency", "statute": data.gateway.lawful_bases.emergency.statute, "override_id": "ovr-1"}]
	}
}

test_an_emergency_releases_nothing_clinical_and_no_cj_identifier_to_health if {
	every f in data.gateway.override_fields.emergency {
		not startswith(f, "clinical.")
		not f in {"vulnerability.summary", "third_party.information", "referrals.made"}
	}
	req := with_override(with_consent(request("health", "health-referral"), {"status": "declined"}), "emergency", ["AGENCY-1"])
	rule_for(decide(req), "identity.pnc_id") == "cj-identifiers-never-to-health"
}

test_an_emergency_for_another_recipient_does_nothing if {
	d := decide(with_override(with_consent(request("health", "health-referral"), {"status": "declined"}), "emergency", ["OTHER"]))
	not d.allow
	d.deny_reason == "nothing-to-share-without-consent"
}

# -- the lawful basis ------------------------------------------------------------------------------

bases_of(d) := [b.basis | some b in d.lawful_basis]

test_consent_is_the_lawful_basis_when_it_covers_the_disclosure if {
	d := decide(request("police", "charging"))
	d.lawful_basis == [{"basis": "consent", "statute": data.gateway.lawful_bases.consent.statute}]
}

test_without_consent_the_process_minimum_is_the_basis if {
	every consent in [{"status": "declined"}, {"status": "withdrawn"}, {"status": "given", "limited_to_agencies": ["SOMEONE-ELSE"]}] {
		d := decide(with_consent(request("court", "case-management"), consent))
		bases_of(d) == ["process-minimum"]
	}
}

test_each_override_relied_on_is_a_basis_with_its_id_after_the_minimum if {
	req := object.union(with_consent(request("police", "charging"), {"status": "declined"}), {"overrides": [
		{"id": "b", "basis": "serious-harm", "recipients": ["AGENCY-1"]},
		{"id": "a", "basis": "safeguarding", "recipients": ["AGENCY-1"]},
	]})
	d := decide(req)
	d.lawful_basis == [
		{"basis": "process-minimum", "statute": data.gateway.lawful_bases["process-minimum"].statute},
		{"basis": "safeguarding", "statute": data.gateway.lawful_bases.safeguarding.statute, "override_id": "a"},
		{"basis": "serious-harm", "statute": data.gateway.lawful_bases["serious-harm"].statute, "override_id": "b"},
	]
}

test_an_override_alone_is_the_basis_where_there_is_no_minimum if {
	req := with_override(with_consent(request("health", "health-referral"), {"status": "declined"}), "safeguarding", ["AGENCY-1"])
	d := decide(req)
	d.allow
	d.lawful_basis == [{"basis": "safeguarding", "statute": data.gateway.lawful_bases.safeguarding.statute, "override_id": "ovr-1"}]
}

test_a_denial_rests_on_no_basis if {
	d := decide(with_consent(request("health", "health-referral"), {"status": "declined"}))
	not d.allow
	d.lawful_basis == []
}

test_every_basis_names_a_statute if {
	every basis in array.concat(["consent", "best-interests", "process-minimum"], data.gateway.override_bases) {
		count(data.gateway.lawful_bases[basis].statute) > 0
		count(data.gateway.lawful_bases[basis].title) > 0
	}
}

test_consent_not_recorded_is_minimum if {
	req := object.remove(request("probation", "sentencing"), ["consent"])
	d := decide(req)
	d.allow
	{f | some f in d.released} == minimum_for(req)
	rule_for(d, "referrals.made") == "consent-not-recorded-minimum"
}

test_consent_limited_to_another_agency_gives_minimum if {
	req := with_consent(request("probation", "sentencing"), {"limited_to_agencies": ["SOMEONE-ELSE"]})
	d := decide(req)
	d.allow
	{f | some f in d.released} == minimum_for(req)
	rule_for(d, "referrals.made") == "consent-limited-to-other-agency"
	rule_for(d, "clinical.diagnoses") == "clinical-needs-consent"
}

reason_for(d, field) := [w.reason | some w in d.withheld; w.field == field][0]

# The consent-only clinical fields say which gap in consent withholds them, never "not given" for a
# consent that was given but limited.
test_clinical_needs_consent_says_which_gap if {
	limited := decide(with_consent(request("probation", "sentencing"), {"limited_to_agencies": ["SOMEONE-ELSE"]}))
	endswith(reason_for(limited, "clinical.diagnoses"), "The person's consent is limited to other agencies.")
	not contains(reason_for(limited, "clinical.diagnoses"), "not been given")
	purposes := decide(with_consent(request("probation", "sentencing"), {"limited_to_purposes": ["charging"]}))
	endswith(reason_for(purposes, "clinical.diagnoses"), "The person's consent is limited to other purposes.")
	declined := decide(with_consent(request("probation", "sentencing"), {"status": "declined"}))
	endswith(reason_for(declined, "clinical.diagnoses"), "The person has declined consent.")
	startswith(reason_for(declined, "clinical.diagnoses"), data.gateway.rules[6].reason)
	reason_for(declined, "referrals.made") == [r.reason | some r in data.gateway.rules; r.id == "consent-declined-minimum"][0]
}

test_every_consent_gap_has_an_explanation if {
	every gap in object.keys(data.gateway.consent_gap_explanations) {
		gap in {r.id | some r in data.gateway.rules}
	}
	every gap in {g | some g in data.gateway.consent_gap_by_status} {
		data.gateway.consent_gap_explanations[gap]
	}
	every gap in ["consent-not-recorded-minimum", "child-consent-not-competent", "consent-by-another-for-adult", "consent-limited-to-other-agency", "consent-limited-to-other-purpose"] {
		data.gateway.consent_gap_explanations[gap]
	}
}

test_consent_limited_to_this_agency_gives_everything if {
	full := decide(request("probation", "sentencing"))
	d := decide(with_consent(request("probation", "sentencing"), {"limited_to_agencies": ["AGENCY-1"]}))
	d.released == full.released
}

test_consent_limited_to_another_purpose_gives_minimum if {
	req := with_consent(request("court", "sentencing"), {"limited_to_purposes": ["health-referral"]})
	d := decide(req)
	{f | some f in d.released} == minimum_for(req)
	rule_for(d, "treatment.requirements") == "consent-limited-to-other-purpose"
}

# -- children --------------------------------------------------------------------------------------

test_child_is_never_disclosed_to_probation if {
	every purpose in ["case-management", "sentencing"] {
		d := decide(as_child(request("probation", purpose), true))
		not d.allow
		d.deny_reason == "child-subject-yot-not-probation"
		d.released == []
	}
}

test_child_is_disclosed_to_the_yot_instead if {
	d := decide(as_child(request("yot", "sentencing"), true))
	d.allow
	"clinical.diagnoses" in d.released
	"treatment.youth_requirements" in d.released
}

test_adult_is_never_disclosed_to_the_yot if {
	every purpose in ["case-management", "sentencing"] {
		d := decide(request("yot", purpose))
		not d.allow
		d.deny_reason == "adult-subject-not-yot"
	}
}

test_child_appropriate_adult_always_released_to_police if {
	every purpose in ["custody", "charging"] {
		every consent in consents {
			d := decide(with_consent(as_child(request("police", purpose), false), consent))
			"needs.appropriate_adult" in d.released
		}
	}
}

test_child_clinical_never_to_police_or_cps if {
	every agency in ["police", "cps"] {
		d := decide(as_child(request(agency, "charging"), true))
		not "clinical.diagnoses" in d.released
		not "clinical.detail" in d.released
	}
}

test_child_consent_without_gillick_competence_gives_minimum if {
	every gillick in [false, null] {
		req := as_child(request("yot", "sentencing"), gillick)
		d := decide(req)
		d.allow
		{f | some f in d.released} == minimum_for(req)
		rule_for(d, "clinical.diagnoses") == "clinical-needs-consent"
		rule_for(d, "referrals.made") == "child-consent-not-competent"
	}
}

test_confidentiality_is_restricted_for_adults_and_very_restricted_for_children if {
	adult := decide(request("court", "case-management"))
	child := decide(as_child(request("court", "case-management"), true))
	adult.obligations == ["refrain:NORDSCLCD", "refrain:NOREUSE", "confidentiality:R"]
	child.obligations == ["refrain:NORDSCLCD", "refrain:NOREUSE", "confidentiality:V"]
}

# -- denials ---------------------------------------------------------------------------------------

test_unknown_purpose_denies if {
	d := decide(request("police", "curiosity"))
	not d.allow
	d.deny_reason == "unknown-purpose"
	d.released == []
	d.obligations == []
}

test_unknown_agency_type_denies if {
	d := decide(request("newspaper", "charging"))
	not d.allow
	d.deny_reason == "unknown-agency-type"
}

test_purpose_not_permitted_for_agency_type_denies if {
	every pair in [["police", "sentencing"], ["cps", "health-referral"], ["court", "charging"], ["health", "case-management"], ["yot", "charging"]] {
		d := decide(request(pair[0], pair[1]))
		not d.allow
		d.deny_reason == "purpose-not-permitted-for-agency-type"
	}
}

test_unknown_age_group_denies if {
	d := decide(object.union(request("court", "sentencing"), {"subject": {"age_group": "unknown"}}))
	not d.allow
	d.deny_reason == "unknown-age-group"
}

test_empty_input_denies if {
	d := decide({})
	not d.allow
	d.deny_reason == "unknown-agency-type"
}

test_ld_service_is_not_a_recipient if {
	d := decide(request("ld-service", "ld-service"))
	not d.allow
}

# -- invariants over every allowed pair ------------------------------------------------------------

test_released_and_withheld_partition_the_catalogue if {
	every pair in cj_pairs {
		every consent in consents {
			d := decide(with_consent(subject_for(pair[0], request(pair[0], pair[1])), consent))
			d.allow
			released := {f | some f in d.released}
			withheld := {w.field | some w in d.withheld}
			count(released & withheld) == 0
			released | withheld == {f | some f in data.gateway.catalogue}
			count(d.withheld) == count(withheld)
		}
	}
}

test_every_withheld_field_has_a_known_rule_and_a_reason if {
	rule_ids := {r.id | some r in data.gateway.rules}
	every pair in allowed_pairs {
		every consent in consents {
			d := decide(with_consent(subject_for(pair[0], request(pair[0], pair[1])), consent))
			every w in d.withheld {
				w.rule in rule_ids
				count(w.reason) > 0
			}
		}
	}
}

test_released_is_sorted if {
	d := decide(request("health", "health-referral"))
	d.released == sort(d.released)
}

test_a_new_catalogue_field_is_withheld_until_a_rule_names_it if {
	catalogue := array.concat(data.gateway.catalogue, ["new.section"])
	d := disclosure.decision with input as request("health", "health-referral")
		with data.gateway.catalogue as catalogue
	not "new.section" in d.released
	rule_for(d, "new.section") == "not-needed-for-purpose"
}

# -- the data itself -------------------------------------------------------------------------------

test_data_names_only_catalogue_fields if {
	catalogue := {f | some f in data.gateway.catalogue}
	every purpose, by_agency in data.gateway.permissions {
		every agency, fields in by_agency {
			every f in fields {
				f in catalogue
			}
		}
	}
	every purpose, by_agency in data.gateway.permissions_with_consent {
		every agency, fields in by_agency {
			every f in fields {
				f in catalogue
			}
		}
	}
	every purpose, by_agency in data.gateway.minimum_without_consent {
		every agency, fields in by_agency {
			every f in fields {
				f in catalogue
			}
		}
	}
	every group, by_purpose in data.gateway.permissions_by_age_group {
		every purpose, by_agency in by_purpose {
			every agency, fields in by_agency {
				every f in fields {
					f in catalogue
				}
			}
		}
	}
	every basis in data.gateway.override_bases {
		every f in data.gateway.override_fields[basis] {
			f in catalogue
		}
	}
}

test_permissions_only_for_allowed_pairs if {
	every purpose, by_agency in data.gateway.permissions {
		every agency, _ in by_agency {
			purpose in data.gateway.purposes_by_agency_type[agency]
		}
	}
}

test_every_rule_id_has_a_reason_and_prohibitions_name_known_rules if {
	rule_ids := {r.id | some r in data.gateway.rules; count(r.reason) > 0}
	every p in data.gateway.prohibitions {
		p.rule in rule_ids
	}
	every r in ["consent-by-another-for-adult", "cj-identifiers-never-to-health", "health-case-reference-never-to-cjs", "treatment-requirements-adults-only", "youth-requirements-children-only", "clinical-needs-consent", "consent-declined-minimum", "consent-withdrawn-minimum", "consent-not-possible-minimum", "override-minimised", "emergency-minimised", "consent-not-recorded-minimum", "child-consent-not-competent", "consent-limited-to-other-agency", "consent-limited-to-other-purpose", "not-needed-for-purpose"] {
		r in rule_ids
	}
}

test_the_minimum_is_within_what_the_purpose_grants if {
	every purpose, by_agency in data.gateway.minimum_without_consent {
		every agency, fields in by_agency {
			every f in fields {
				some g in array.concat(data.gateway.permissions[purpose][agency], object.get(data.gateway.permissions_by_age_group.child, [purpose, agency], []))
				f == g
			}
			"needs.communication" in fields
		}
	}
}

# -- children's consent ----------------------------------------------------------------------------

aged(req, age, gillick) := object.union(req, {
	"subject": {"age": age, "age_group": "child"},
	"consent": {"gillick_competent": gillick},
})

test_sixteen_and_seventeen_year_olds_are_presumed_capable if {
	full := decide(aged(request("court", "sentencing"), 16, true))
	every gillick in [null, true] {
		d := decide(aged(request("court", "sentencing"), 17, gillick))
		d.released == full.released
	}
}

test_sixteen_and_seventeen_year_olds_assessed_as_lacking_capacity_get_the_minimum if {
	req := aged(request("court", "sentencing"), 16, false)
	d := decide(req)
	{f | some f in d.released} == minimum_for(req)
	rule_for(d, "vulnerability.summary") == "child-consent-not-competent"
}

test_under_sixteen_gillick_decides if {
	d := decide(aged(request("court", "sentencing"), 15, null))
	rule_for(d, "vulnerability.summary") == "child-consent-not-competent"
}

test_parental_responsibility_consent_counts_for_a_child_who_cannot_consent if {
	full := decide(aged(request("yot", "sentencing"), 14, true))
	every gillick in [false, null] {
		req := with_consent(aged(request("yot", "sentencing"), 14, gillick), {"parental_responsibility": true})
		d := decide(req)
		d.released == full.released
	}
}

test_parental_responsibility_ends_at_eighteen if {
	req := with_consent(request("probation", "sentencing"), {"parental_responsibility": true})
	d := decide(req)
	d.allow
	{f | some f in d.released} == minimum_for(req)
	rule_for(d, "vulnerability.summary") == "consent-by-another-for-adult"
}
