"""Support for the backup tests: a tiny fake service, config builders, stand-in systemctl/docker scripts."""
