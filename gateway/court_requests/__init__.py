"""Court requests (FHIR Task), their notifications (server-sent events, signed webhooks) and assessment alerts."""
