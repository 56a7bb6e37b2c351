"""accessdesk: co-selected early access to frontier AI models.

The package spans two folders of the repository: ``src/accessdesk`` (the core: domain, API, console, OAuth, worker)
and ``bots/accessdesk`` (the Slack bot, ``accessdesk.slackbot``). An installed wheel has them in one folder; in a
checkout, the path below reaches both.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
