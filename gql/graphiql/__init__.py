"""GraphiQL served from the app itself: the page `/graphql` renders for a browser, and
its vendored GraphiQL, React and licences under /graphiql/static (see README.md here)."""
