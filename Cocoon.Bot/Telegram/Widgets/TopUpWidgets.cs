using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Cocoon.Bot.MiniApp;
using Cocoon.Bot.Telegram.Transport;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Deposits;
using Cocoon.Ledger.Ton;
using global::Telegram.Bot;
using global::Telegram.Bot.Exceptions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Telegram.Widgets;

/// <summary>What the bot answers a widget's top-up query with (answerWidgetQuery data, at most 1024 bytes of JSON).</summary>
public sealed record TopUpAnswer(
    [property: JsonPropertyName("request")] TonConnectTransaction? Request,
    [property: JsonPropertyName("link")] string? Link,
    [property: JsonPropertyName("comment")] string? Comment,
    [property: JsonPropertyName("wallet")] string? Wallet,
    [property: JsonPropertyName("status")] string? Status = null);

/// <summary>
/// TON top-ups inside the chat (Bot API 10.4). /topup keeps the Stars offer as the default answer and, when the
/// gateway has TON, sends a widget under it (sendWidget, private chats only, as Telegram allows in production):
/// the user's linked wallet (TON Connect, <see cref="WalletLinks"/>), the network's deposit address and a fresh
/// invoice comment, and the transfer request built as the Mini App builds it (<see cref="DepositInvoices.TopUpRequest"/>).
/// The widget's queries come back as widget_query updates: a "data" query asking for the top-up ("topup") is
/// answered with a fresh request (and the user's TON wallet card, when the client sent it along); a
/// "sent_transaction" notice is acknowledged. Nothing here credits anything: the deposit watcher credits what
/// reaches the deposit address with the invoice's comment, exactly as for the Mini App, so a forged query (the data
/// comes from the user's device) can gain nothing. A server or client that refuses the widget leaves the Stars
/// answer standing, which is the older clients' path.
/// </summary>
public sealed partial class TopUpWidgets(
    ITelegramBotClient bot,
    IServiceScopeFactory scopes,
    BlockedChats blocked,
    IOptions<TelegramOptions> options,
    ILogger<TopUpWidgets> logger,
    WalletLinks? links = null)
{
    /// <summary>The data a widget sends to ask for the top-up request.</summary>
    public const string TopUpQuery = "topup";

    /// <summary>Sends the top-up widget to a private chat; false when it was not sent (TON off, refused, blocked).</summary>
    public async Task<bool> SendAsync(long chatId, long userId, CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (!o.TopUpWidget || blocked.IsBlocked(chatId))
        {
            return false;
        }

        await using var scope = scopes.CreateAsyncScope();
        if (scope.ServiceProvider.GetService<DepositInvoices>() is not { } invoices)
        {
            return false;
        }

        var wallet = links is null ? null : await links.GetAsync(userId, cancellationToken).ConfigureAwait(false);
        var invoice = await invoices.CreateAsync(AccountId.User(userId), o.TopUpWidgetNanotons, cancellationToken).ConfigureAwait(false);
        var request = invoices.TopUpRequest(invoice, o.TopUpWidgetValidity);
        var link = invoices.TransferLink(invoice);
        var view = new TopUpWidgetView(wallet, null, request.Messages[0].Address, invoice.Comment, invoice.AmountDue, link, request);
        var caption = $"Top up with TON: send any amount to {view.DepositAddress} with the comment {invoice.Comment}. It is credited when it reaches the network.";
        try
        {
            var sent = await bot.SendRequest(new SendWidgetRequest
            {
                ChatId = chatId,
                Html = TopUpWidgetHtml.Render(view),
                ChatData = ChatData(wallet, invoice.Comment),
                Caption = caption,
                AllowQueries = true,
            }, cancellationToken).ConfigureAwait(false);
            LogSent(logger, userId, sent.MessageId, invoice.Id);
            return true;
        }
        catch (ApiRequestException ex) when (ex.ErrorCode is 400 or 404)
        {
            // An older Bot API server (404: no such method) or one that refuses the widget here: the Stars answer stays.
            LogRefused(logger, ex.ErrorCode, ex.Message);
            return false;
        }
        catch (ApiRequestException ex) when (ex.ErrorCode == 403)
        {
            return false;
        }
    }

    /// <summary>Answers a widget_query (due within 15 seconds); every query gets an answer, an empty one when not understood.</summary>
    public async Task OnQueryAsync(WidgetQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        string? data = null;
        switch (query.Type.Type)
        {
            case WidgetQueryType.DataType when query.Data == TopUpQuery:
                data = await TopUpAnswerAsync(query, cancellationToken).ConfigureAwait(false);
                break;
            case WidgetQueryType.SentTransactionType:
                // The user's wallet says it sent a transfer; the chain decides: the deposit watcher credits it when
                // it arrives with the invoice's comment. The hash is only logged, to find the transfer later.
                LogSentTransaction(logger, query.From.Id, query.Type.Wallet?.Address, query.Type.MsgHash);
                data = Json(new TopUpAnswer(null, null, null, query.Type.Wallet?.Address, "sent"));
                break;
            default:
                LogUnknownQuery(logger, query.From.Id, query.Type.Type);
                break;
        }

        try
        {
            await bot.SendRequest(new AnswerWidgetQueryRequest { WidgetQueryId = query.Id, Data = data }, cancellationToken).ConfigureAwait(false);
        }
        catch (ApiRequestException ex) when (ex.ErrorCode == 400)
        {
            // Answered too late (more than 15 seconds) or already answered: the widget asks again.
            LogAnswerRefused(logger, query.Id, ex.Message);
        }
    }

    private async Task<string?> TopUpAnswerAsync(WidgetQuery query, CancellationToken cancellationToken)
    {
        var o = options.Value;
        await using var scope = scopes.CreateAsyncScope();
        if (scope.ServiceProvider.GetService<DepositInvoices>() is not { } invoices)
        {
            return Json(new TopUpAnswer(null, null, null, null, "ton_off"));
        }

        // The wallet to show: the card the client sent along with the query (WidgetQueryTypeData.wallet_card), else
        // the wallet the user linked with ton_proof in the Mini App.
        var wallet = query.Type.WalletCard?.Address
            ?? (links is null ? null : await links.GetAsync(query.From.Id, cancellationToken).ConfigureAwait(false));
        var invoice = await invoices.CreateAsync(AccountId.User(query.From.Id), o.TopUpWidgetNanotons, cancellationToken).ConfigureAwait(false);
        var request = invoices.TopUpRequest(invoice, o.TopUpWidgetValidity);
        LogQueryAnswered(logger, query.From.Id, invoice.Id);
        var full = Json(new TopUpAnswer(request, invoices.TransferLink(invoice), invoice.Comment, wallet));
        return Encoding.UTF8.GetByteCount(full) <= AnswerWidgetQueryRequest.MaxDataBytes
            ? full
            : Json(new TopUpAnswer(request, null, invoice.Comment, null));
    }

    /// <summary>The widget's chat state: who pays from where, with which comment (0-1024 bytes; left out if longer).</summary>
    private static string? ChatData(string? wallet, string comment)
    {
        var json = JsonSerializer.Serialize(new Dictionary<string, string?> { ["wallet"] = wallet, ["comment"] = comment });
        return Encoding.UTF8.GetByteCount(json) <= 1024 ? json : null;
    }

    private static string Json(TopUpAnswer answer) => JsonSerializer.Serialize(answer, SerializerOptions);

    private static readonly JsonSerializerOptions SerializerOptions = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    [LoggerMessage(EventId = LogEvents.Widgets + 1, Level = LogLevel.Information, Message = "Top-up widget sent to user {UserId} (message {MessageId}, invoice {InvoiceId})")]
    private static partial void LogSent(ILogger logger, long userId, int messageId, Guid invoiceId);

    [LoggerMessage(EventId = LogEvents.Widgets + 2, Level = LogLevel.Information, Message = "sendWidget refused ({ErrorCode}: {Description}); /topup answered with Stars only")]
    private static partial void LogRefused(ILogger logger, int errorCode, string description);

    [LoggerMessage(EventId = LogEvents.Widgets + 3, Level = LogLevel.Information, Message = "Widget top-up request for user {UserId} (invoice {InvoiceId})")]
    private static partial void LogQueryAnswered(ILogger logger, long userId, Guid invoiceId);

    [LoggerMessage(EventId = LogEvents.Widgets + 4, Level = LogLevel.Information, Message = "User {UserId}'s wallet {Wallet} reports a sent top-up (msg_hash {MsgHash}); the deposit watcher credits it on arrival")]
    private static partial void LogSentTransaction(ILogger logger, long userId, string? wallet, string? msgHash);

    [LoggerMessage(EventId = LogEvents.Widgets + 5, Level = LogLevel.Debug, Message = "Widget query of type {Type} from user {UserId} not understood; answered empty")]
    private static partial void LogUnknownQuery(ILogger logger, long userId, string type);

    [LoggerMessage(EventId = LogEvents.Widgets + 6, Level = LogLevel.Information, Message = "answerWidgetQuery {QueryId} refused: {Description}")]
    private static partial void LogAnswerRefused(ILogger logger, string queryId, string description);
}
