"""The pull-request bot: posts one govops comment on a pull request and keeps it up to date."""
