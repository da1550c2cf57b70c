using System.Globalization;
using Cocoon.Bot.Telegram.Accounts;
using Cocoon.Bot.Telegram.Chats;
using Cocoon.Ledger.Accounts;
using global::Telegram.Bot;
using global::Telegram.Bot.Exceptions;
using global::Telegram.Bot.Types;
using global::Telegram.Bot.Types.Payments;
using global::Telegram.Bot.Types.ReplyMarkups;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cocoon.Bot.Telegram.Payments;

public enum RefundOutcome
{
    Refunded,
    AlreadyRefunded,
    UnknownCharge,
    CreditAlreadySpent,
    RefusedByTelegram,
}

/// <summary>
/// Telegram Stars top-ups: XTR invoices with an empty provider token and one price; the pre-checkout query is
/// answered from the payload alone (no I/O, well within Telegram's 10 s); a successful payment is credited through
/// the ledger with telegram_payment_charge_id as the idempotency key, so a redelivered update credits nothing more.
/// Every charge is recorded (account, stars, nanotons) for refunds.
/// </summary>
public sealed partial class StarsPayments(
    ITelegramBotClient bot,
    ILedger ledger,
    IConnectionMultiplexer redis,
    TelegramKeys keys,
    ChatSender sender,
    TimeProvider time,
    IOptions<TelegramOptions> options,
    ILogger<StarsPayments> logger)
{
    public const string Currency = "XTR";

    public InlineKeyboardMarkup TopUpKeyboard(bool forGroup)
    {
        var prefix = forGroup ? CallbackData.GroupStarsPrefix : CallbackData.StarsPrefix;
        var rows = new List<InlineKeyboardButton[]>
        {
            options.Value.EffectiveTopUpStars
                .Select(s => InlineKeyboardButton.WithCallbackData($"⭐ {s} = {Money.Ton(s * options.Value.NanotonsPerStar)}", prefix + s.ToString(CultureInfo.InvariantCulture)))
                .ToArray(),
        };
        if (!forGroup && options.Value.MiniAppUrl is { Length: > 0 } url)
        {
            rows.Add([InlineKeyboardButton.WithWebApp("Pay with TON (Mini App)", new WebAppInfo(url))]);
        }

        return new InlineKeyboardMarkup(rows);
    }

    public async Task SendInvoiceAsync(long chatId, AccountId account, int stars, CancellationToken cancellationToken)
    {
        if (!options.Value.EffectiveTopUpStars.Contains(stars))
        {
            return;
        }

        var credit = Money.Ton(stars * options.Value.NanotonsPerStar);
        var forGroup = account.Value.StartsWith("group:", StringComparison.Ordinal);
        await bot.SendInvoice(
            chatId,
            title: $"Cocoon credit: {credit}",
            description: forGroup
                ? $"Adds {credit} to this group's AI budget."
                : $"Adds {credit} to your Cocoon balance for private AI answers.",
            payload: Payload(account, stars),
            currency: Currency,
            prices: [new LabeledPrice("Cocoon credit", stars)],
            providerToken: string.Empty,
            cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    public async Task OnPreCheckoutAsync(PreCheckoutQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var error = Check(query.InvoicePayload, query.Currency, query.TotalAmount, query.From.Id);
        await bot.AnswerPreCheckoutQuery(query.Id, error, cancellationToken).ConfigureAwait(false);
        if (error is not null)
        {
            LogPreCheckoutRefused(logger, query.From.Id, error);
        }
    }

    public async Task OnSuccessfulPaymentAsync(Message message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        var payment = message.SuccessfulPayment!;
        var payer = message.From?.Id ?? message.Chat.Id;
        if (Check(payment.InvoicePayload, payment.Currency, payment.TotalAmount, payer) is { } error
            || !TryParsePayload(payment.InvoicePayload, out var account, out _))
        {
            // Telegram took the Stars, so this is recorded and left to an operator (/refund), never dropped.
            LogOddPayment(logger, payment.TelegramPaymentChargeId, payer);
            account = AccountId.User(payer);
        }

        var nanotons = checked(payment.TotalAmount * options.Value.NanotonsPerStar);
        await ledger.CreditAsync(account, nanotons, AccountId.StarsClearing, IdempotencyKey(payment.TelegramPaymentChargeId), cancellationToken).ConfigureAwait(false);

        var db = redis.GetDatabase();
        var key = keys.Payment(payment.TelegramPaymentChargeId);
        var first = await db.HashSetAsync(key, "account", account.Value, When.NotExists).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (!first)
        {
            LogDuplicatePayment(logger, payment.TelegramPaymentChargeId);
            return;
        }

        await db.HashSetAsync(key,
        [
            new("payer", payer),
            new("stars", payment.TotalAmount),
            new("nanotons", nanotons),
            new("at", time.GetUtcNow().ToUnixTimeSeconds()),
            new("status", "credited"),
        ]).WaitAsync(cancellationToken).ConfigureAwait(false);
        await db.ListLeftPushAsync(keys.Payments, payment.TelegramPaymentChargeId).WaitAsync(cancellationToken).ConfigureAwait(false);
        LogCredited(logger, account.Value, payment.TotalAmount, nanotons);

        var balance = await ledger.GetBalanceAsync(account, cancellationToken).ConfigureAwait(false);
        await sender.SendAsync(message.Chat.Id, $"Thank you! {payment.TotalAmount} ⭐ added {Money.Ton(nanotons)}. Balance: {Money.Ton(balance)}.", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Takes the credit back from the account, then asks Telegram to return the Stars; recorded either way.</summary>
    public async Task<RefundOutcome> RefundAsync(string chargeId, CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        var key = keys.Payment(chargeId);
        var fields = (await db.HashGetAllAsync(key).WaitAsync(cancellationToken).ConfigureAwait(false)).ToDictionary(e => e.Name.ToString(), e => e.Value);
        if (!fields.TryGetValue("account", out var accountValue) || !fields.TryGetValue("payer", out var payerValue) || !fields.TryGetValue("nanotons", out var nanotonsValue))
        {
            return RefundOutcome.UnknownCharge;
        }

        if (fields.TryGetValue("status", out var status) && status == "refunded")
        {
            return RefundOutcome.AlreadyRefunded;
        }

        var account = new AccountId(accountValue.ToString());
        var nanotons = (long)nanotonsValue;

        // Each refund Telegram refused was undone; the next attempt is a new debit, so it needs its own key (with the
        // first key again the debit would be a no-op and the user would keep the credit and get the Stars back).
        var round = fields.TryGetValue("refund-round", out var roundValue) ? (long)roundValue : 0;
        var debitKey = round == 0 ? $"stars-refund:{chargeId}" : $"stars-refund:{chargeId}:{round}";
        try
        {
            await ledger.CreditAsync(AccountId.StarsClearing, nanotons, account, debitKey, cancellationToken).ConfigureAwait(false);
        }
        catch (InsufficientFundsException)
        {
            return RefundOutcome.CreditAlreadySpent;
        }

        try
        {
            await bot.RefundStarPayment((long)payerValue, chargeId, cancellationToken).ConfigureAwait(false);
        }
        catch (ApiRequestException ex) when (ex.ErrorCode == 400)
        {
            // Telegram kept the Stars, so the user keeps the credit.
            await ledger.CreditAsync(account, nanotons, AccountId.StarsClearing, round == 0 ? $"stars-refund-undo:{chargeId}" : $"stars-refund-undo:{chargeId}:{round}", cancellationToken).ConfigureAwait(false);
            await db.HashSetAsync(key, [new("status", "refund-refused"), new("refund-error", ex.Message), new("refund-round", round + 1)]).WaitAsync(cancellationToken).ConfigureAwait(false);
            return RefundOutcome.RefusedByTelegram;
        }

        await db.HashSetAsync(key, [new("status", "refunded"), new("refunded-at", time.GetUtcNow().ToUnixTimeSeconds())]).WaitAsync(cancellationToken).ConfigureAwait(false);
        LogRefunded(logger, account.Value, nanotons);
        return RefundOutcome.Refunded;
    }

    public static string IdempotencyKey(string chargeId) => $"stars:{chargeId}";

    public static string Payload(AccountId account, int stars) => account.Value switch
    {
        var v when v.StartsWith("user:", StringComparison.Ordinal) => $"v1:u:{v[5..]}:{stars}",
        var v when v.StartsWith("group:", StringComparison.Ordinal) => $"v1:g:{v[6..]}:{stars}",
        _ => throw new ArgumentException("Stars can top up user and group accounts only.", nameof(account)),
    };

    public static bool TryParsePayload(string? payload, out AccountId account, out int stars)
    {
        account = default;
        stars = 0;
        var parts = payload?.Split(':');
        if (parts is not ["v1", var kind, var id, var amount]
            || !long.TryParse(id, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n)
            || !int.TryParse(amount, NumberStyles.None, CultureInfo.InvariantCulture, out stars))
        {
            return false;
        }

        account = kind switch
        {
            "u" => AccountId.User(n),
            "g" => AccountId.Group(n),
            _ => default,
        };
        return account.Value is not null;
    }

    /// <summary>Null when the invoice is one of ours and consistent; otherwise the message Telegram shows the payer.</summary>
    private string? Check(string payload, string currency, long totalAmount, long payerId)
    {
        if (!TryParsePayload(payload, out var account, out var stars))
        {
            return "This invoice is not valid any more. Please use /topup again.";
        }

        if (currency != Currency || totalAmount != stars || !options.Value.EffectiveTopUpStars.Contains(stars))
        {
            return "This invoice does not match an offer. Please use /topup again.";
        }

        if (account.Value.StartsWith("user:", StringComparison.Ordinal) && account != AccountId.User(payerId))
        {
            return "This invoice was made for someone else. Please use /topup yourself.";
        }

        return null;
    }

    [LoggerMessage(EventId = LogEvents.Payments + 1, Level = LogLevel.Information, Message = "Stars payment credited to {Account}: {Stars} stars = {Nanotons} nanotons")]
    private static partial void LogCredited(ILogger logger, string account, long stars, long nanotons);

    [LoggerMessage(EventId = LogEvents.Payments + 2, Level = LogLevel.Information, Message = "Stars payment {ChargeId} delivered again; already credited")]
    private static partial void LogDuplicatePayment(ILogger logger, string chargeId);

    [LoggerMessage(EventId = LogEvents.Payments + 3, Level = LogLevel.Warning, Message = "Pre-checkout from user {UserId} refused: {Reason}")]
    private static partial void LogPreCheckoutRefused(ILogger logger, long userId, string reason);

    [LoggerMessage(EventId = LogEvents.Payments + 4, Level = LogLevel.Warning, Message = "Stars payment {ChargeId} from {UserId} does not match an offer; credited to the payer, refundable by an operator")]
    private static partial void LogOddPayment(ILogger logger, string chargeId, long userId);

    [LoggerMessage(EventId = LogEvents.Payments + 5, Level = LogLevel.Information, Message = "Stars payment refunded: {Nanotons} nanotons taken back from {Account}")]
    private static partial void LogRefunded(ILogger logger, string account, long nanotons);
}
