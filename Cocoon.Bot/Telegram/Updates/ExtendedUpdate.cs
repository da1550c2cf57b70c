using System.Text.Json;
using System.Text.Json.Serialization;
using Cocoon.Bot.Telegram.Widgets;
using global::Telegram.Bot;
using global::Telegram.Bot.Requests;
using global::Telegram.Bot.Types;
using global::Telegram.Bot.Types.Enums;

namespace Cocoon.Bot.Telegram.Updates;

/// <summary>
/// An Update with the fields of Bot API versions newer than Telegram.Bot 22.10.3.3 (Bot API 10.2) knows. The
/// library's Update has no extension data, so an unknown field would be dropped when the update is read; every
/// place that reads updates (getUpdates, the webhook, the inbox) reads this type instead.
/// </summary>
public sealed class ExtendedUpdate : Update
{
    /// <summary>The update's allowed_updates name (Bot API 10.4): "widget_query".</summary>
    public const string WidgetQueryName = "widget_query";

    /// <summary>widget_query (Bot API 10.4): "a query from a widget in a message sent by or via the bot".</summary>
    [JsonPropertyName(WidgetQueryName)]
    public WidgetQuery? WidgetQuery { get; set; }

    /// <summary>The allowed_updates names of the library's update types plus the newer ones given.</summary>
    public static string[] AllowedNames(IEnumerable<UpdateType> known, params string[] newer) =>
        [.. known.Select(t => JsonSerializer.Deserialize<string>(JsonSerializer.Serialize(t, JsonBotAPI.Options))!), .. newer];
}

/// <summary>
/// getUpdates returning <see cref="ExtendedUpdate"/>s, with allowed_updates as names, so an update type newer than the
/// library's UpdateType enum can be asked for ("If allowed_updates is set, the new update type must be listed or it
/// never arrives"). Same parameters as the library's GetUpdatesRequest (core.telegram.org/bots/api#getupdates).
/// </summary>
public sealed class GetExtendedUpdatesRequest() : RequestBase<ExtendedUpdate[]>("getUpdates")
{
    [JsonPropertyName("offset")]
    public int? Offset { get; set; }

    [JsonPropertyName("limit")]
    public int? Limit { get; set; }

    [JsonPropertyName("timeout")]
    public int? Timeout { get; set; }

    [JsonPropertyName("allowed_updates")]
    public IEnumerable<string>? AllowedUpdates { get; set; }
}

/// <summary>setWebhook with allowed_updates as names, for the same reason (core.telegram.org/bots/api#setwebhook).</summary>
public sealed class SetExtendedWebhookRequest() : RequestBase<bool>("setWebhook")
{
    [JsonPropertyName("url")]
    public required string Url { get; set; }

    [JsonPropertyName("allowed_updates")]
    public IEnumerable<string>? AllowedUpdates { get; set; }

    [JsonPropertyName("secret_token")]
    public string? SecretToken { get; set; }
}
