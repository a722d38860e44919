"""The pages: thin views that parse a request, call a service or a selector, and render a template."""
