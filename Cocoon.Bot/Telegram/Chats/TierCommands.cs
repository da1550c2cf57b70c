using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Telegram.Accounts;
using Cocoon.Engine.Matching;
using global::Telegram.Bot.Types.ReplyMarkups;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Telegram.Chats;

/// <summary>
/// /tier: which trust tiers may answer this user. The choice is stored with the user's settings and goes into every
/// dispatch of their private chat as the Matcher's accepted tiers; consumer (no TEE) is only ever used after the user
/// picked it here. "/tier tee,consumer" sets a list in words, the buttons set the common ones.
/// </summary>
public sealed class TierCommands(UserStore users, ChatSender sender, IOptions<DispatchOptions> dispatch)
{
    public const string DefaultChoice = "default";

    /// <summary>What a user who never chose accepts: the gateway's default.</summary>
    public IReadOnlyList<string> NetworkDefault => TrustTiers.Default(dispatch.Value.TrustedSimulatedPlatformKeys.Count > 0);

    public async Task HandleAsync(long chatId, long userId, string args, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrWhiteSpace(args))
        {
            await sender.SendAsync(chatId, await SetAsync(userId, args, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
            return;
        }

        var chosen = await users.GetTiersAsync(userId, cancellationToken).ConfigureAwait(false);
        var text =
            $"Answers come only from workers in the trust tiers you accept. Now: {TierLabels.Describe(chosen, NetworkDefault)}.\n\n" +
            string.Join("\n", TrustTiers.All.Select(t => "• " + TierLabels.Explain(t))) +
            "\n\nChoose below, or write e.g. /tier tee,consumer.";
        var buttons = new[]
        {
            new[] { InlineKeyboardButton.WithCallbackData("tee only", CallbackData.TierPrefix + TrustTiers.Tee) },
            new[] { InlineKeyboardButton.WithCallbackData("tee + simulated", CallbackData.TierPrefix + "tee,simulated") },
            new[] { InlineKeyboardButton.WithCallbackData("tee + simulated + consumer", CallbackData.TierPrefix + "tee,simulated,consumer") },
            new[] { InlineKeyboardButton.WithCallbackData("the network's default", CallbackData.TierPrefix + DefaultChoice) },
        };
        await sender.SendAsync(chatId, text, cancellationToken, new InlineKeyboardMarkup(buttons)).ConfigureAwait(false);
    }

    /// <summary>Stores the choice ("tee,consumer" or "default") and returns what to tell the user.</summary>
    public async Task<string> SetAsync(long userId, string value, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (string.Equals(value.Trim(), DefaultChoice, StringComparison.OrdinalIgnoreCase))
        {
            await users.SetTiersAsync(userId, null, cancellationToken).ConfigureAwait(false);
            return $"Tiers set: {TierLabels.Describe(null, NetworkDefault)}.";
        }

        var tiers = TrustTiers.Parse([value], out var error);
        if (tiers is null)
        {
            return error + " Example: /tier tee,simulated";
        }

        await users.SetTiersAsync(userId, tiers, cancellationToken).ConfigureAwait(false);
        return $"Tiers set: {string.Join(", ", tiers)}." + (tiers.Contains(TrustTiers.Consumer)
            ? " Note: consumer workers have no TEE, so the provider's machine can read your prompts."
            : string.Empty);
    }
}
