"""The authoring pages: catalog, groups, packages, drafts, publishing, versions, preview."""
