namespace Broker.Actors.Alarms;

public static class DiskSpace
{
    /// <summary>Free bytes (for this process's user) in the file system holding <paramref name="directory"/>; null when it cannot be read.</summary>
    public static long? FreeBytes(string directory)
    {
        try
        {
            return new DriveInfo(Path.GetFullPath(directory)).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }
}
