using System.Text.Json.Serialization;
using global::Telegram.Bot.Requests;
using global::Telegram.Bot.Types;
using global::Telegram.Bot.Types.ReplyMarkups;

namespace Cocoon.Bot.Telegram.Widgets;

// Bot API 10.4 (2026-11-09) methods that Telegram.Bot 22.10.3.3 (Bot API 10.2) does not have, as request types of
// our own on the library's seam (ITelegramBotClient.SendRequest), built like the library's: a RequestBase<TResult>
// named after the method, serialized by the library (JsonBotAPI.Options: snake_case, defaults left out).

/// <summary>
/// sendWidget: a message with an HTML widget; returns the sent Message. Parameters as on
/// core.telegram.org/bots/api/methods/sendwidget.md ("Use this method to send a message with an HTML widget ...
/// in the production environment, widgets can be sent only to private chats") and the aiogram 3.33 signature that
/// mirrors it; only the ones the bot uses are here.
/// </summary>
public sealed class SendWidgetRequest() : RequestBase<Message>("sendWidget")
{
    /// <summary>chat_id: Integer or String, required.</summary>
    [JsonPropertyName("chat_id")]
    public required long ChatId { get; set; }

    /// <summary>html: "HTML code of the widget, 1-32768 bytes. The code must not exceed 4096 bytes when compressed by zlib with the maximum compression level."</summary>
    [JsonPropertyName("html")]
    public required string Html { get; set; }

    /// <summary>width: logical pixels, optional; omitted = the whole width of the bubble (clamped from 200 to the bubble's width).</summary>
    [JsonPropertyName("width")]
    public int? Width { get; set; }

    /// <summary>height: logical pixels, optional; omitted = not fixed (clamped to 50-600).</summary>
    [JsonPropertyName("height")]
    public int? Height { get; set; }

    /// <summary>chat_data: data of the widget specific to the message (the widget's chat state), 0-1024 bytes.</summary>
    [JsonPropertyName("chat_data")]
    public string? ChatData { get; set; }

    /// <summary>caption: shown with the widget (InputWidgetMessageContent/aiogram: 0-1024 characters after entities parsing).</summary>
    [JsonPropertyName("caption")]
    public string? Caption { get; set; }

    /// <summary>allow_queries: Pass True if the widget may send queries to the bot (widget_query updates).</summary>
    [JsonPropertyName("allow_queries")]
    public bool AllowQueries { get; set; }

    [JsonPropertyName("reply_markup")]
    public ReplyMarkup? ReplyMarkup { get; set; }
}

/// <summary>
/// answerWidgetQuery (core.telegram.org/bots/api/methods/answerwidgetquery.md): "The query must be answered within 15
/// seconds. The answer is received only by the widget that sent the query and doesn't change data of the widget; use
/// editMessageWidgetData or editSharedWidgetData to change it"; returns True. (editMessageWidgetData's page,
/// core.telegram.org/bots/api/methods/editmessagewidgetdata.md, was read too: chat_id/message_id or
/// inline_message_id, public_data and chat_data, 0-1024 bytes each, omitted = unchanged, "" = removed. The bot does
/// not call it: only a widget's own script reads its data, and the /topup widget has none, see TopUpWidgetHtml.)
/// </summary>
public sealed class AnswerWidgetQueryRequest() : RequestBase<bool>("answerWidgetQuery")
{
    /// <summary>widget_query_id: String, required: "Unique identifier for the query to be answered".</summary>
    [JsonPropertyName("widget_query_id")]
    public required string WidgetQueryId { get; set; }

    /// <summary>data: String, optional: "Data to be returned to the widget, 0-1024 bytes".</summary>
    [JsonPropertyName("data")]
    public string? Data { get; set; }

    /// <summary>The documented limit of <see cref="Data"/>, in UTF-8 bytes.</summary>
    public const int MaxDataBytes = 1024;
}
