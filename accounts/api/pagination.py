from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination

from accounts import limits


def _whole_number(value: str, *, name: str, maximum: int) -> int:
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= maximum:
        raise serializers.ValidationError(
            {name: [f"Must be a whole number from 1 to {maximum:,}."]}
        )
    return int(value)


class StandardPagination(PageNumberPagination):
    """``{"count", "next", "previous", "results"}``; ``?page_size=`` from 1 up to 200.

    A ``page`` or ``page_size`` that is not a whole number in range is a 400 (DRF would
    silently use the default); a page past the last one is a 404.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = limits.MAX_PAGE_SIZE

    def get_page_size(self, request) -> int:
        value = request.query_params.get(self.page_size_query_param)
        if value is None:
            return self.page_size
        return _whole_number(value, name=self.page_size_query_param, maximum=self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.page_query_param: limits.MAX_PAGE_NUMBER,
            self.page_size_query_param: self.max_page_size,
        }
        for parameter in parameters:
            if parameter["name"] in bounds:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": bounds[parameter["name"]],
                }
        return parameters

    def paginate_queryset(self, queryset, request, view=None):
        value = request.query_params.get(self.page_query_param)
        if value is not None and value not in self.last_page_strings:
            _whole_number(value, name=self.page_query_param, maximum=limits.MAX_PAGE_NUMBER)
        return super().paginate_queryset(queryset, request, view)
