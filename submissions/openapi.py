"""The OpenAPI 3.1 document of the observations API, built from the same field rules as the form and importer."""

from __future__ import annotations

from typing import Any

from submissions import operations as submission_ops
from submissions.models import ObservationStatus
from submissions.validation import json_schema


def document(path: str) -> dict:
    """The OpenAPI document; ``path`` is the observations collection's URL path."""
    submit = json_schema()
    # The taxonomy is configurable: list today's categories as examples, and accept names as well as slugs.
    submit["properties"]["category"]["examples"] = [c.slug for c in submission_ops.active_categories()]
    stored: dict[str, Any] = {
        "type": "object",
        "properties": {
            **{name: dict(prop) for name, prop in submit["properties"].items()},
            "id": {"type": "integer"},
            "period_precision": {"type": "string", "enum": ["day", "month"]},
            "status": {"type": "string", "enum": [s.value for s in ObservationStatus]},
            "redacted": {"type": "boolean", "description": "Whether personal details have been removed yet."},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    }
    stored["properties"]["area"] = {"type": ["string", "null"], "description": "ONS code of the area, or null."}
    error = {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {"status": {"type": "integer"}, "message": {"type": "string"}},
            },
            "errors": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "One message per invalid field, keyed by field name.",
            },
        },
    }

    def ref(name: str) -> dict:
        return {"$ref": f"#/components/schemas/{name}"}

    def json_response(description: str, schema: str) -> dict:
        return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}

    unauthorised = json_response("No token, or an unknown or revoked one.", "Error")
    forbidden = json_response("The token's organisation may not use observations (funders).", "Error")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "commintel observations API",
            "version": "1",
            "description": (
                "Submit and list your organisation's observations. Authenticate with an organisation's API token "
                "(created by an organisation admin on the API tokens page): `Authorization: Bearer <token>`. "
                "The same rules apply as on the web form and in bulk import."
            ),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"ObservationInput": submit, "Observation": stored, "Error": error},
        },
        "security": [{"bearer": []}],
        "paths": {
            path: {
                "post": {
                    "summary": "Submit one observation",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": ref("ObservationInput")}},
                    },
                    "responses": {
                        "201": json_response("Stored; the body is the observation, with its id.", "Observation"),
                        "401": unauthorised,
                        "403": forbidden,
                        "422": json_response("Invalid fields; nothing was stored.", "Error"),
                    },
                },
                "get": {
                    "summary": "List your organisation's observations",
                    "parameters": [
                        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                        {
                            "name": "per_page",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                        },
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {"type": "string", "enum": [s.value for s in ObservationStatus]},
                        },
                        {"name": "external_ref", "in": "query", "schema": {"type": "string"}},
                    ],  # fmt: skip
                    "responses": {
                        "200": {
                            "description": "A page of observations, oldest first.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "organisation": {"type": "string"},
                                            "page": {"type": "integer"},
                                            "per_page": {"type": "integer"},
                                            "total": {"type": "integer"},
                                            "observations": {"type": "array", "items": ref("Observation")},
                                        },
                                    }
                                }
                            },
                        },
                        "401": unauthorised,
                        "403": forbidden,
                        "422": json_response("Unknown filter value.", "Error"),
                    },
                },
            }
        },
    }
