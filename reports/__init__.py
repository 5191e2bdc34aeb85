"""What people read: the Jinja templates of reminders, invoices, staff notices, KPI reports and portal pages, the
PDF builder (charts, Chromium) and figures formatted as people read them."""
