"""Pydantic wire models of request bodies (camelCase, exactly the reference's shapes)."""
