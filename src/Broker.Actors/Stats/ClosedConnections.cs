namespace Broker.Actors.Stats;

/// <summary>Why a connection ended, as the management UI's "recently closed" list shows it.</summary>
public sealed record ClosedConnection(
    string Name, string User, string VHost, string PeerHost, int PeerPort,
    int ReplyCode, string ReplyText, long ClosedAt, string InitiatedBy);

/// <summary>The last closes of this node's connections, newest last; bounded, so it never grows.</summary>
public sealed class ClosedConnections(int capacity)
{
    private readonly Queue<ClosedConnection> _recent = new();

    public void Add(ClosedConnection closed)
    {
        lock (_recent)
        {
            if (_recent.Count == capacity)
            {
                _recent.Dequeue();
            }

            _recent.Enqueue(closed);
        }
    }

    public List<ClosedConnection> Recent()
    {
        lock (_recent)
        {
            return _recent.ToList();
        }
    }
}
