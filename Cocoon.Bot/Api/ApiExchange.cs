using Cocoon.Bot.Observability;
using Microsoft.AspNetCore.Http;

namespace Cocoon.Bot.Api;

/// <summary>
/// The frame around one API request that every endpoint shares: in-flight and per-status metrics, a refusal
/// (<see cref="ApiProblem"/>) answered as an OpenAI-style error unless the response has started, and a caller who
/// went away counted as 499 rather than as an error.
/// </summary>
internal static class ApiExchange
{
    /// <param name="handle">Answers the request; returns the status it ended with (a streamed answer that failed after its headers reports the error's status).</param>
    public static async Task RunAsync(HttpContext context, ApiMetrics metrics, ILogger logger, string requestId, string endpoint, Func<Task<int>> handle)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(handle);
        metrics.Started();
        var status = StatusCodes.Status200OK;
        try
        {
            status = await handle();
        }
        catch (ApiProblem problem)
        {
            status = problem.Status;
            metrics.Refusal(problem.Code ?? problem.Type);
            ApiLog.Refused(logger, requestId, problem.Status, problem.Code ?? problem.Type);
            if (!context.Response.HasStarted)
            {
                await problem.ToResult().ExecuteAsync(context);
            }
        }
        catch (Exception) when (context.RequestAborted.IsCancellationRequested)
        {
            status = 499;
            ApiLog.ClientGone(logger, requestId);
        }
        finally
        {
            metrics.Finished();
            metrics.Request(endpoint, status);
        }
    }
}
