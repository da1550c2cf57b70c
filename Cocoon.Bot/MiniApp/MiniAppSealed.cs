using Cocoon.Bot.Api;
using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Hosting;
using Cocoon.Ledger.Accounts;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.MiniApp;

/// <summary>
/// The Mini App's side of the client-sealed path: the same reservation and relay as <c>/v1/sealed/*</c> (same
/// formats, see <see cref="SealedEndpoints"/>), paid by the Telegram user whose signed init data opened the page. The
/// page verifies the worker's attestation, seals in the browser and opens the stream itself; the gateway relays.
/// </summary>
internal static class MiniAppSealed
{
    public static void Map(RouteGroupBuilder api, MiniAppOptions options)
    {
        api.MapPost("/sealed/reserve", (HttpContext http, SealedRelay relay, FreshStatements statements, IOptions<DispatchOptions> dispatch, IOptions<GatewayOptions> gateway, ILoggerFactory loggers) =>
            SealedEndpoints.ReserveForAsync(http, AccountId.User(MiniAppEndpoints.CurrentUser(http).Id), relay, statements, dispatch, gateway, loggers, options.MaxAnswerTokens));
        api.MapPost("/sealed/chat", (HttpContext http, SealedRelay relay, MiniAppUsage usage, TimeProvider time, IOptions<GatewayOptions> gateway, ILoggerFactory loggers) =>
        {
            var user = MiniAppEndpoints.CurrentUser(http);
            return SealedEndpoints.ChatForAsync(http, AccountId.User(user.Id), relay, gateway, loggers, async done =>
            {
                // The usage chart counts sealed answers too (token counts and cost from the receipt: never text).
                await usage.AddAsync(user.Id, time.GetUtcNow(), done.Receipt.PromptTokens, done.Receipt.CompletionTokens, done.ChargedNanotons, CancellationToken.None).ConfigureAwait(false);
                MiniAppLog.ChatAnswered(loggers.CreateLogger("Cocoon.Bot.MiniApp"), done.Receipt.RequestId, user.Id, "sealed", done.Receipt.WorkerId, done.Receipt.PromptTokens, done.Receipt.CompletionTokens, done.ChargedNanotons);
            });
        });
    }
}
