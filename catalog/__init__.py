"""The catalog: departments, their keys, shared resources and the one access decision."""
