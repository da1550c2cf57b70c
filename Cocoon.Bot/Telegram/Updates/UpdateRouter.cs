using System.Globalization;
using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Telegram.Accounts;
using Cocoon.Bot.Telegram.Chats;
using Cocoon.Bot.Telegram.Groups;
using Cocoon.Bot.Telegram.Guests;
using Cocoon.Bot.Telegram.Payments;
using Cocoon.Ledger.Accounts;
using global::Telegram.Bot;
using global::Telegram.Bot.Exceptions;
using global::Telegram.Bot.Types;
using global::Telegram.Bot.Types.Enums;

namespace Cocoon.Bot.Telegram.Updates;

/// <summary>Sends each update to the feature that owns it.</summary>
public sealed class UpdateRouter(
    ITelegramBotClient bot,
    PrivateChatHandler privateChats,
    GroupHandler groups,
    StarsPayments stars,
    UserStore users,
    IDispatcher dispatcher,
    GenerationStops stops,
    GuestHandler guests,
    TierCommands tiers,
    Receipts.VerifyButton verify,
    Widgets.TopUpWidgets widgets)
{
    public async Task HandleAsync(Update update, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(update);
        switch (update)
        {
            case ExtendedUpdate { WidgetQuery: { } query }:
                await widgets.OnQueryAsync(query, cancellationToken).ConfigureAwait(false);
                break;
            case { StoppedMessageGeneration: { } stopped }:
                stops.Stop(stopped.Chat.Id, stopped.DraftId);
                break;
            case { GuestMessage: { } guest }:
                await guests.HandleAsync(guest, cancellationToken).ConfigureAwait(false);
                break;
            case { PreCheckoutQuery: { } query }:
                await stars.OnPreCheckoutAsync(query, cancellationToken).ConfigureAwait(false);
                break;
            case { Message: { SuccessfulPayment: not null } paid }:
                await stars.OnSuccessfulPaymentAsync(paid, cancellationToken).ConfigureAwait(false);
                break;
            case { Message: { Chat.Type: ChatType.Private } message }:
                await privateChats.HandleAsync(message, cancellationToken).ConfigureAwait(false);
                break;
            case { Message: { Chat.Type: ChatType.Group or ChatType.Supergroup } message }:
                await groups.HandleAsync(message, cancellationToken).ConfigureAwait(false);
                break;
            case { MyChatMember: { } membership }:
                await groups.OnMembershipAsync(membership, cancellationToken).ConfigureAwait(false);
                break;
            case { CallbackQuery: { } callback }:
                await OnCallbackAsync(callback, cancellationToken).ConfigureAwait(false);
                break;
            default:
                // Edited messages, channel posts and the rest: an answer was already given to the original.
                break;
        }
    }

    private async Task OnCallbackAsync(CallbackQuery callback, CancellationToken cancellationToken)
    {
        var data = callback.Data ?? string.Empty;
        var chatId = callback.Message?.Chat.Id ?? callback.From.Id;
        string? notice = null;
        try
        {
            if (data.StartsWith(Receipts.VerifyButton.Prefix, StringComparison.Ordinal))
            {
                await verify.HandleAsync(callback, cancellationToken).ConfigureAwait(false);
                return;
            }

            if (data == CallbackData.TopUpMenu)
            {
                await bot.AnswerCallbackQuery(callback.Id, cancellationToken: cancellationToken).ConfigureAwait(false);
                await bot.SendMessage(chatId, "Choose an amount:", replyMarkup: stars.TopUpKeyboard(forGroup: false), cancellationToken: cancellationToken).ConfigureAwait(false);
                return;
            }

            if (data.StartsWith(CallbackData.StarsPrefix, StringComparison.Ordinal)
                && int.TryParse(data.AsSpan(CallbackData.StarsPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
            {
                await bot.AnswerCallbackQuery(callback.Id, cancellationToken: cancellationToken).ConfigureAwait(false);
                await stars.SendInvoiceAsync(chatId, AccountId.User(callback.From.Id), amount, cancellationToken).ConfigureAwait(false);
                return;
            }

            if (data.StartsWith(CallbackData.GroupStarsPrefix, StringComparison.Ordinal)
                && int.TryParse(data.AsSpan(CallbackData.GroupStarsPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var groupAmount)
                && callback.Message?.Chat is { Type: ChatType.Group or ChatType.Supergroup } group)
            {
                await bot.AnswerCallbackQuery(callback.Id, cancellationToken: cancellationToken).ConfigureAwait(false);
                await stars.SendInvoiceAsync(group.Id, AccountId.Group(group.Id), groupAmount, cancellationToken).ConfigureAwait(false);
                return;
            }

            if (data.StartsWith(CallbackData.TierPrefix, StringComparison.Ordinal))
            {
                notice = await tiers.SetAsync(callback.From.Id, data[CallbackData.TierPrefix.Length..], cancellationToken).ConfigureAwait(false);
            }

            if (data.StartsWith(CallbackData.ModelPrefix, StringComparison.Ordinal))
            {
                var prefix = data[CallbackData.ModelPrefix.Length..];
                var served = await dispatcher.GetModelsAsync(cancellationToken).ConfigureAwait(false);
                var model = served.FirstOrDefault(m => m.Name == prefix) ?? served.FirstOrDefault(m => m.Name.StartsWith(prefix, StringComparison.Ordinal));
                if (model is null)
                {
                    notice = "That model isn't served any more. Try /model again.";
                }
                else
                {
                    await users.SetModelAsync(callback.From.Id, model.Name, cancellationToken).ConfigureAwait(false);
                    notice = $"Model set: {model.Name}";
                }
            }

            await bot.AnswerCallbackQuery(callback.Id, notice, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (ApiRequestException ex) when (ex.ErrorCode == 400 && ex.Message.Contains("query is too old", StringComparison.OrdinalIgnoreCase))
        {
            // Answered too late (the bot was down): the user just taps again.
        }
    }
}
