using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using global::Telegram.Bot;
using global::Telegram.Bot.Types;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Telegram.Updates;

/// <summary>
/// Webhook mode: Telegram POSTs each update with the secret it was given in setWebhook. The secret is compared in
/// constant time; the update goes into the inbox (dropped if that update_id was seen) and is answered 200 at once,
/// so a slow answer never makes Telegram redeliver.
/// </summary>
public static class WebhookEndpoint
{
    public const string SecretHeader = "X-Telegram-Bot-Api-Secret-Token";

    public static IEndpointRouteBuilder MapTelegramWebhook(this IEndpointRouteBuilder endpoints, string path)
    {
        endpoints.MapPost(path, HandleAsync).ExcludeFromDescription();
        return endpoints;
    }

    internal static async Task<IResult> HandleAsync(HttpContext context, UpdateInbox inbox, UpdatePump pump, IOptions<TelegramOptions> options)
    {
        var expected = Encoding.UTF8.GetBytes(options.Value.WebhookSecret ?? string.Empty);
        var given = Encoding.UTF8.GetBytes(context.Request.Headers[SecretHeader].ToString());
        if (expected.Length == 0 || !CryptographicOperations.FixedTimeEquals(expected, given))
        {
            return Results.Unauthorized();
        }

        Update? update;
        try
        {
            update = await JsonSerializer.DeserializeAsync<ExtendedUpdate>(context.Request.Body, JsonBotAPI.Options, context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            return Results.BadRequest();
        }

        if (update is null)
        {
            return Results.BadRequest();
        }

        if (await inbox.AcceptAsync(update, context.RequestAborted).ConfigureAwait(false))
        {
            await pump.EnqueueAsync(update, context.RequestAborted).ConfigureAwait(false);
        }

        return Results.Ok();
    }
}
