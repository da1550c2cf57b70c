using System.Text.Json.Serialization;
using Cocoon.Bot.Dispatch;

namespace Cocoon.Bot.Observability;

internal sealed record HealthReport(string Status, string? Reason, int Workers, IReadOnlyList<string> Models);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(HealthReport))]
internal sealed partial class HealthJsonContext : JsonSerializerContext;

/// <summary>
/// <c>GET /healthz</c>: 200 only when at least one worker is registered and passed the attestation policy (the
/// dispatcher lists only such workers), else 503 with the reason, so a load balancer and <c>./cocoon up</c> agree
/// on "ready".
/// </summary>
internal static class HealthEndpoint
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(3);

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", CheckAsync);
        return app;
    }

    private static async Task CheckAsync(HttpContext context, IDispatcher dispatcher)
    {
        HealthReport report;
        try
        {
            var models = await dispatcher.GetModelsAsync(context.RequestAborted).WaitAsync(Budget, context.RequestAborted);
            var workers = models.Sum(m => m.Workers.Count);
            var names = models.Where(m => m.Workers.Count > 0).Select(m => m.Name).ToList();
            report = workers > 0
                ? new HealthReport("ok", null, workers, names)
                : new HealthReport("unavailable", "no attested worker is registered yet: ./cocoon up starts one with the gateway; a provider joins one with ./cocoon worker", 0, []);
        }
        catch (TimeoutException)
        {
            report = new HealthReport("unavailable", "the worker registry (Redis) did not answer within 3 s", 0, []);
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or InvalidOperationException)
        {
            report = new HealthReport("unavailable", $"the worker registry (Redis) is unreachable: {ex.GetType().Name}", 0, []);
        }

        context.Response.StatusCode = report.Workers > 0 ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.CacheControl = "no-store";
        await context.Response.WriteAsJsonAsync(report, HealthJsonContext.Default.HealthReport, cancellationToken: context.RequestAborted);
    }
}
