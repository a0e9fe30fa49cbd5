"""Development tooling, never in the product wheel: throwaway PostgreSQL and S3 servers, the demo,
synthetic sample data and the test suites' project driver."""
