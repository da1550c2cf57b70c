using System.Globalization;
using System.Text;
using Cocoon.Bot.Receipts;
using Cocoon.Bot.Telegram.Accounts;
using Cocoon.Bot.Telegram.Chats;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Matching;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Receipts;
using Cocoon.Ledger.Ton;
using global::Telegram.Bot;
using global::Telegram.Bot.Types;
using global::Telegram.Bot.Types.Enums;
using global::Telegram.Bot.Types.ReplyMarkups;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Telegram.Receipts;

/// <summary>
/// The "Verify" button under an answer: shows the worker's signed receipt for it as the gateway stored it (id, the
/// request and answer hashes, worker, tier, tokens, charge) and whether its Merkle root is on TON yet, and says how to
/// check all of it from outside the bot with <c>./cocoon verify</c>. Only the account that paid for the answer (the
/// user, or the group whose budget paid) sees it; in a group the reply is an ephemeral message to that member.
/// Hashes only: a receipt never holds text.
/// </summary>
public sealed class VerifyButton(
    ITelegramBotClient bot,
    ChatSender sender,
    ReceiptStore? store = null,
    NetworkWallet? wallet = null,
    IOptions<ReceiptAnchorOptions>? anchoring = null,
    IConfiguration? configuration = null)
{
    /// <summary>callback_data prefix; a request id is at most ~45 bytes here, inside Telegram's 64.</summary>
    public const string Prefix = "vr:";

    /// <summary>The keyboard put under an answer, or null when the id would not fit Telegram's callback data.</summary>
    public static InlineKeyboardMarkup? Keyboard(string requestId) =>
        Encoding.UTF8.GetByteCount(Prefix + requestId) <= 64
            ? new InlineKeyboardMarkup(InlineKeyboardButton.WithCallbackData("🔍 Verify", Prefix + requestId))
            : null;

    public async Task HandleAsync(CallbackQuery callback, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var requestId = callback.Data![Prefix.Length..];
        var chat = callback.Message?.Chat;
        var isGroup = chat is { Type: ChatType.Group or ChatType.Supergroup };
        await bot.AnswerCallbackQuery(callback.Id, cancellationToken: cancellationToken).ConfigureAwait(false);

        string text;
        if (store is null)
        {
            text = "This bot keeps no receipts (it runs without the gateway's ledger), so there is nothing to verify here.";
        }
        else
        {
            var found = await store.FindAsync(requestId, AccountId.User(callback.From.Id).Value, cancellationToken).ConfigureAwait(false);
            if (found is null && isGroup)
            {
                found = await store.FindAsync(requestId, AccountId.Group(chat!.Id).Value, cancellationToken).ConfigureAwait(false);
            }

            text = found is { } hit
                ? Describe(hit.Receipt, hit.Anchor)
                : $"No receipt {requestId} for you: only the account that paid for an answer can see its receipt, and an answer that was stopped before any of it arrived, or failed, has none.";
        }

        if (isGroup)
        {
            await sender.SendToMemberAsync(chat!.Id, callback.From.Id, text, cancellationToken, replyTo: callback.Message?.MessageId).ConfigureAwait(false);
        }
        else
        {
            await sender.SendAsync(chat?.Id ?? callback.From.Id, text, cancellationToken, replyTo: callback.Message?.MessageId).ConfigureAwait(false);
        }
    }

    private string Describe(ReceiptRecord record, ReceiptAnchor? anchor)
    {
        var r = SignedUsageReceipt.FromJson(record.SignedReceiptJson).Receipt;
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"🔍 Receipt {record.RequestId}\n\n");
        text.Append(CultureInfo.InvariantCulture, $"Worker: {r.WorkerId} ({TrustTiers.FromTeeKind(r.TeeKind)} tier, {r.TeeKind} attestation)\n");
        text.Append(CultureInfo.InvariantCulture, $"Model SHA-256: {r.ModelSha256}\n");
        var cached = r.CachedPromptTokens > 0 ? $" ({r.CachedPromptTokens} from cache)" : string.Empty;
        text.Append(CultureInfo.InvariantCulture, $"Tokens: {r.PromptTokens} prompt{cached} + {r.CompletionTokens} answer, {r.FinishReason.ToString().ToLowerInvariant()}; charged {Money.Ton(record.ChargedNanotons)}\n");
        text.Append(CultureInfo.InvariantCulture, $"Request SHA-256: {Convert.ToHexStringLower(r.RequestSha256)}\n");
        text.Append(CultureInfo.InvariantCulture, $"Answer SHA-256: {Convert.ToHexStringLower(r.ResponseSha256)}\n");
        text.Append("Signature: Ed25519 by the worker's attested key; the gateway checked it and its attestation before billing.\n\n");
        text.Append(Anchoring(record, anchor));
        text.Append("\n\nCheck it yourself, outside this bot: get an API key with /apikey, then run\n");
        // The command as it can be pasted: this gateway's URL, and the public chain API the Mini App reads anchors from.
        var gateway = configuration?["Gateway:Url"] is { Length: > 0 } url ? url.TrimEnd('/') : "<this gateway's URL>";
        var chain = configuration?["MiniApp:ChainApiUrl"] is { Length: > 0 } api ? " --chain " + api : string.Empty;
        text.Append(CultureInfo.InvariantCulture, $"COCOON_API_KEY=<your key> COCOON_HTTP={gateway} ./cocoon verify {record.RequestId}{chain}\n");
        text.Append("It fetches the receipt and the network's attestation policy and prints ✔ or ✘ for the signature, the worker's attestation, the hashes and the inclusion proof against the root read from the chain. ");
        text.Append("The answer hash covers the text exactly as the worker streamed it (before Telegram formatting); save it as ");
        text.Append(CultureInfo.InvariantCulture, $"{record.RequestId}.answer.txt under COCOON_DATA/answers to have that checked too.");
        return text.ToString();
    }

    private string Anchoring(ReceiptRecord record, ReceiptAnchor? anchor)
    {
        if (wallet is null)
        {
            return "Anchoring: this network has no TON chain configured, so receipts are not anchored.";
        }

        if (anchor is null)
        {
            var period = anchoring?.Value.AnchorPeriod ?? TimeSpan.FromMinutes(5);
            return $"Anchoring: not yet. Every {Period(period)} the gateway commits a Merkle root over the period's receipts on TON, from {wallet.Address.ToRaw()}.";
        }

        var leaf = record.LeafIndex is { } i ? $"leaf {i} of {anchor.LeafCount}" : $"{anchor.LeafCount} leaves";
        return anchor.TransactionHash is { } tx
            ? $"Anchoring: ✔ on TON in root {anchor.RootHex} ({leaf}), transaction {tx} (lt {anchor.TransactionLt?.ToString(CultureInfo.InvariantCulture)}) of {wallet.Address.ToRaw()}, fee {Money.Ton(anchor.FeeNanotons ?? 0)}."
            : $"Anchoring: root {anchor.RootHex} ({leaf}) is built and sent; waiting for its transaction on TON.";
    }

    private static string Period(TimeSpan period) => period.TotalMinutes >= 1 && period.Seconds == 0
        ? $"{(int)period.TotalMinutes} min"
        : $"{(int)period.TotalSeconds} s";
}
