"""The declaration model: proxy-wide settings, site declarations, shared allowlists."""
