from django.contrib import admin


class CloudAssistAdminSite(admin.AdminSite):
    site_header = "CloudAssist administration"
    site_title = "CloudAssist"
    index_title = "Review requests, manage templates, users and roles"
