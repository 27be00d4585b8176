"""Refusals a page raises; `api.pages.handlers` turns them into HTML answers."""

from __future__ import annotations


class PageError(Exception):
    """An error page: status, a short title and a sentence saying what to do next."""

    def __init__(
        self, status_code: int, title: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.title = title
        self.message = message
        self.headers = headers or {}


class SignInRequired(Exception):
    """No valid session: the page answers with a redirect to the sign-in form."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url
