"""`make demo`: throwaway PostgreSQL, plan-sized sample data, snapshot twice, summary."""

from seedctl_dev.demo import main

if __name__ == "__main__":
    main()
