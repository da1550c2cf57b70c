using Cocoon.Network.Providers;
using Microsoft.AspNetCore.Mvc;

namespace Cocoon.Bot.Telegram.Providers;

/// <summary>
/// GET /v1/provider/status with the provider's worker token as Bearer: the /provider status report as JSON (workers
/// online, state, tier, jobs, last refusal with what to do, earnings per day, pending payout). 401 for an unknown token.
/// </summary>
public static class ProviderStatusEndpoint
{
    public const string Path = "/v1/provider/status";

    public static IEndpointRouteBuilder MapProviderStatus(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet(Path, async (HttpContext http, [FromServices] ProviderDirectory providers, [FromServices] ProviderStatus status, CancellationToken ct) =>
        {
            var token = Join.JoinEndpoints.Bearer(http);
            var provider = token.Length == 0 ? null : await providers.ResolveTokenAsync(token, ct).ConfigureAwait(false);
            return provider is null
                ? Results.Json(Network.Access.JoinRefusals.For(Network.Access.JoinRefusals.TokenRevoked, "the worker token is not registered"),
                    Network.Access.JoinJsonContext.Default.JoinRefusal, statusCode: 401)
                : Results.Json(await status.BuildAsync(provider, ct).ConfigureAwait(false), ProviderStatusJsonContext.Default.ProviderStatusReport);
        });
        return app;
    }
}
