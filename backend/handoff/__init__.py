"""Human handoff: tickets for staff, and the bot keeping quiet while staff answer."""
