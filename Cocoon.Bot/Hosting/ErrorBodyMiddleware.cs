using System.Text.Json;
using Cocoon.Bot.Api;
using Cocoon.Bot.MiniApp;

namespace Cocoon.Bot.Hosting;

/// <summary>
/// The last line of defence: an exception no endpoint turned into an answer becomes a JSON error body with a request
/// id instead of an empty 500, in the shape of the API it hit (OpenAI's under <c>/v1</c>, the Mini App's elsewhere),
/// and is logged with the exception and the request id (never the body). Framing errors Kestrel raises while a
/// handler reads the body are the client's: they keep their 4xx status.
/// </summary>
internal sealed partial class ErrorBodyMiddleware(RequestDelegate next, ILogger<ErrorBodyMiddleware> logger)
{
    public const string RequestIdHeader = "X-Request-Id";

    private static readonly JsonSerializerOptions MiniAppJson = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (Exception) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client left: nobody reads an answer, and a vanished client is not a server fault (the status can
            // only still be set when nothing was sent).
            if (!context.Response.HasStarted)
            {
                context.Response.StatusCode = 499;
            }
        }
        catch (Exception ex)
        {
            var requestId = context.Response.Headers[RequestIdHeader] is { Count: > 0 } existing ? existing.ToString() : CompletionEndpoints.NewRequestId();
            var (status, code, message) = ex is BadHttpRequestException bad
                ? (bad.StatusCode, bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? "request_too_large" : "invalid_body",
                    "The request could not be read (malformed framing, or larger than the gateway accepts).")
                : (StatusCodes.Status500InternalServerError, "internal_error",
                    $"The gateway failed unexpectedly; quote request id {requestId} when reporting it.");
            if (status >= 500)
            {
                LogUnhandled(logger, requestId, context.Request.Method, RouteOf(context), ex);
            }
            else
            {
                LogBadRequest(logger, requestId, status, ex.Message);
            }

            if (context.Response.HasStarted)
            {
                // Headers are gone: only dropping the connection tells the client the answer is incomplete.
                context.Abort();
                return;
            }

            context.Response.Clear();
            context.Response.StatusCode = status;
            context.Response.Headers[RequestIdHeader] = requestId;
            context.Response.Headers.CacheControl = "no-store";
            if (context.Request.Path.StartsWithSegments("/v1"))
            {
                var type = status >= 500 ? "server_error" : "invalid_request_error";
                await context.Response.WriteAsJsonAsync(new ErrorEnvelope(new ErrorBody(message, type, null, code)), ApiJsonContext.Default.ErrorEnvelope, cancellationToken: CancellationToken.None);
            }
            else
            {
                await context.Response.WriteAsJsonAsync(new MiniAppErrorBody(new MiniAppError(code, message)), MiniAppJson, cancellationToken: CancellationToken.None);
            }
        }
    }

    /// <summary>The matched route template (bounded), never the raw path a client chose.</summary>
    private static string RouteOf(HttpContext context) =>
        (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "(no route)";

    [LoggerMessage(EventId = LogEvents.Errors + 1, Level = LogLevel.Error, Message = "Request {RequestId} ({Method} {Route}) failed with an unhandled exception; answered 500")]
    private static partial void LogUnhandled(ILogger logger, string requestId, string method, string route, Exception exception);

    [LoggerMessage(EventId = LogEvents.Errors + 2, Level = LogLevel.Information, Message = "Request {RequestId} refused with {Status}: the body could not be read ({Reason})")]
    private static partial void LogBadRequest(ILogger logger, string requestId, int status, string reason);
}
