using System.Text;
using System.Threading.Channels;

namespace Cocoon.Bot.Dispatch;

/// <summary>
/// What the user has been sent, across attempts. A new attempt's text is checked against the delivered prefix
/// and only what goes beyond it is streamed, so a re-dispatch never shows the user two answers.
/// </summary>
public sealed class Delivery(ChannelWriter<DispatchEvent> events)
{
    private readonly StringBuilder _delivered = new();
    private int _attemptLength;

    public int Delivered => _delivered.Length;

    /// <summary>The whole text the user was sent (for a spot-check replay to compare; never stored or logged).</summary>
    public string Text => _delivered.ToString();

    public bool AttemptCoversDelivered => _attemptLength >= _delivered.Length;

    public void BeginAttempt() => _attemptLength = 0;

    /// <summary>False when the attempt's text departs from what the user already has.</summary>
    public async ValueTask<bool> OfferAsync(string piece, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(piece);
        var start = _attemptLength;
        _attemptLength += piece.Length;
        var overlap = Math.Clamp(_delivered.Length - start, 0, piece.Length);
        for (var i = 0; i < overlap; i++)
        {
            if (_delivered[start + i] != piece[i])
            {
                return false;
            }
        }

        if (overlap < piece.Length)
        {
            var fresh = piece[overlap..];
            _delivered.Append(fresh);
            await events.WriteAsync(new DispatchPiece(fresh), cancellationToken).ConfigureAwait(false);
        }

        return true;
    }
}
