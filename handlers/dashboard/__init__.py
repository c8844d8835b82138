"""The community workers' dashboard: the week's figures across every capability."""
