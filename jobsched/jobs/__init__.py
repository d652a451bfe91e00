"""Web pages for jobs: dashboard, the job form, a job's detail page."""
