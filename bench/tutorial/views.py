"""The tutorial's views after "Cache entire views", written as it shows them (error handling aside)."""

from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template import engines
from django.utils.cache import learn_cache_key
from django.views.decorators.cache import cache_page

from mc_tasklist.models import Task

PAGE = engines["django"].from_string(
    """<!DOCTYPE html><html lang="en"><head><title>MemCachier Django tutorial</title></head><body>
<h1>Task list</h1>
<form action="/add" method="post"><input type="text" name="name"><button type="submit">Add Task</button></form>
<table>{% for task in tasks %}<tr><td>{{ task.name }}</td><td><form action="/remove" method="post">
<input type="hidden" name="id" value="{{ task.id }}"><button type="submit">Delete</button></form></td></tr>
{% endfor %}</table></body></html>"""
)

# The tutorial's per-process global: only the process that cached the view knows its key.
VIEW_KEY = ""


@cache_page(None)
def index(request):
    response = HttpResponse(PAGE.render({"tasks": Task.objects.order_by("id")}))
    global VIEW_KEY
    VIEW_KEY = learn_cache_key(request, response)
    return response


def add(request):
    Task.objects.create(name=request.POST["name"])
    cache.delete(VIEW_KEY)
    return redirect("/")


def remove(request):
    Task.objects.filter(id=request.POST["id"]).delete()
    cache.delete(VIEW_KEY)
    return redirect("/")
