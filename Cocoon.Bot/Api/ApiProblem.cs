using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Cocoon.Bot.Api;

/// <summary>
/// An error the API answers with an OpenAI-style body (<c>{"error":{"message","type","param","code"}}</c>).
/// Thrown by validation and mapping code, turned into the response in one place.
/// </summary>
/// Every problem has a code: a client (and the refusal metric) branches on it, never on the message.
internal sealed partial class ApiProblem(int status, string message, string type, string? param, string code) : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string Code { get; } = code;

    /// <summary>Seconds a client should wait before retrying (429/503), if any.</summary>
    public int? RetryAfterSeconds { get; init; }

    public ErrorEnvelope ToEnvelope() => new(new ErrorBody(Message, Type, Param, Code));

    public ApiProblemResult ToResult() => new(this);

    public static ApiProblem Invalid(string message, string? param, string code) =>
        new(StatusCodes.Status400BadRequest, message, "invalid_request_error", param, code);

    public static ApiProblem Unauthorized(string message) =>
        new(StatusCodes.Status401Unauthorized, message, "invalid_request_error", null, "invalid_api_key");

    public static ApiProblem TooLarge(int limit) =>
        new(StatusCodes.Status413PayloadTooLarge, $"The request body is larger than {limit} bytes.", "invalid_request_error", null, "request_too_large");

    public static ApiProblem ModelNotFound(string model) =>
        new(StatusCodes.Status404NotFound, $"The model '{Truncate(model)}' does not exist or no attested worker serves it right now; GET /v1/models lists the served models.", "invalid_request_error", "model", "model_not_found");

    /// <summary>Turns a System.Text.Json failure into a 400 that names the offending field, without echoing input.</summary>
    public static ApiProblem FromJson(JsonException exception)
    {
        var unmapped = UnmappedProperty().Match(exception.Message);
        if (unmapped.Success)
        {
            // The exception's path already ends with the unmapped property.
            var param = Truncate(ParamFromPath(exception.Path) ?? unmapped.Groups[1].Value);
            return Invalid($"Unrecognized request argument supplied: {param}", param, "unknown_parameter");
        }

        var path = ParamFromPath(exception.Path);
        if (path is null)
        {
            return Invalid("The request body is not a valid JSON object.", null, "invalid_json");
        }

        var detail = exception.Message.Contains("Path:", StringComparison.Ordinal) || exception.Message.StartsWith("The JSON value could not be converted", StringComparison.Ordinal)
            ? "has the wrong type or an invalid value"
            : exception.Message.TrimEnd('.');
        return Invalid($"Invalid value for '{path}': {detail}.", path, "invalid_type");
    }

    private static string? ParamFromPath(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "$")
        {
            return null;
        }

        return path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
    }

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64] + "…";

    [GeneratedRegex("^The JSON property '(.*)' could not be mapped", RegexOptions.Singleline)]
    private static partial Regex UnmappedProperty();
}

/// <summary>An <see cref="ApiProblem"/> as the response: its status, Retry-After when it has one, and the error body.</summary>
internal sealed class ApiProblemResult(ApiProblem problem) : IResult, IStatusCodeHttpResult
{
    public int? StatusCode => problem.Status;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        httpContext.Response.StatusCode = problem.Status;
        if (problem.RetryAfterSeconds is { } retry)
        {
            httpContext.Response.Headers.RetryAfter = retry.ToString(CultureInfo.InvariantCulture);
        }

        // Not the request's token: an error body is still worth writing while the connection lives.
        return httpContext.Response.WriteAsJsonAsync(problem.ToEnvelope(), ApiJsonContext.Default.ErrorEnvelope, cancellationToken: CancellationToken.None);
    }
}
