"""Email providers: the real sendgrid client and aiosmtpd, against local servers."""
