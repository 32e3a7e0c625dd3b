"""What happens to a call of a rule's secret URL: the endpoint, its guards, the inbox."""
