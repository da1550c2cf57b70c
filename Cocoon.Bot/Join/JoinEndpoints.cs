using Cocoon.Network.Access;
using Microsoft.AspNetCore.Mvc;

namespace Cocoon.Bot.Join;

/// <summary>
/// POST /v1/network/join (the worker's token as Bearer, its attestation in the body): 200 with the grant, or 401/403/409
/// with a <see cref="JoinRefusal"/> (reason, detail, what to do, temporary). GET …/{workerId}: the worker's state.
/// DELETE …/{workerId}: the worker leaves. The token is the only credential; nothing here needs a Telegram login.
/// </summary>
public static class JoinEndpoints
{
    public const string Path = "/v1/network/join";

    public static IEndpointRouteBuilder MapJoin(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapPost(Path, async (HttpContext http, [FromServices] JoinService joins, CancellationToken ct) =>
        {
            JoinRequest? request;
            try
            {
                request = await http.Request.ReadFromJsonAsync(JoinJsonContext.Default.JoinRequest, ct).ConfigureAwait(false);
            }
            catch (System.Text.Json.JsonException)
            {
                request = null;
            }

            if (request is null || string.IsNullOrEmpty(request.Attestation))
            {
                return Results.Json(JoinRefusals.For("malformed", "the body must be {\"attestation\": \"<bundle JSON>\"}"), JoinJsonContext.Default.JoinRefusal, statusCode: 400);
            }

            var (grant, refusal) = await joins.JoinAsync(Bearer(http), request, ct).ConfigureAwait(false);
            return grant is not null
                ? Results.Json(grant, JoinJsonContext.Default.JoinGrant)
                : Results.Json(refusal!, JoinJsonContext.Default.JoinRefusal, statusCode: StatusFor(refusal!));
        });
        app.MapGet(Path + "/{workerId}", async (string workerId, HttpContext http, [FromServices] JoinService joins, CancellationToken ct) =>
            await joins.StatusAsync(Bearer(http), workerId, ct).ConfigureAwait(false) is { } status
                ? Results.Json(status, JoinJsonContext.Default.JoinStatus)
                : Results.NotFound());
        app.MapDelete(Path + "/{workerId}", async (string workerId, HttpContext http, [FromServices] JoinService joins, CancellationToken ct) =>
            await joins.LeaveAsync(Bearer(http), workerId, ct).ConfigureAwait(false) ? Results.NoContent() : Results.NotFound());
        return app;
    }

    internal static string Bearer(HttpContext http) =>
        http.Request.Headers.Authorization.ToString() is { } h && h.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? h["Bearer ".Length..].Trim() : string.Empty;

    private static int StatusFor(JoinRefusal refusal) => refusal.Reason switch
    {
        JoinRefusals.TokenRevoked => 401,
        JoinRefusals.WorkerIdTaken or JoinRefusals.KeyMismatch => 409,
        "malformed" => 400,
        _ => 403,
    };
}
