"""The ground floor: helpers every app may use and that import no app (env, logging, client
addresses, rate limits, body limits, API plumbing, storage backends and file serving)."""
