"""Partnership sessions, briefing composition, PDF rendering, decisions and actions, and the funders' library."""
