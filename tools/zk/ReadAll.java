import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;
import org.apache.zookeeper.*;

/**
 * What a ZooKeeper-mode Kafka controller does when it takes over: read the state of every
 * partition (KafkaController.initializeControllerContext reads /brokers/topics and every
 * /brokers/topics/T/partitions/P/state). Times listing every topic's partitions and reading
 * every state znode, asynchronously with a bound of outstanding requests, against the tree
 * ../shared/anchors/zk/LoadGen.java builds. Prints `name: value` lines.
 *
 * args: --connect HOSTS [--outstanding 256]
 */
public class ReadAll {
    public static void main(String[] argv) throws Exception {
        Map<String, String> o = new HashMap<>();
        for (int i = 0; i + 1 < argv.length; i += 2) o.put(argv[i].replaceFirst("^--", ""), argv[i + 1]);
        String connect = o.getOrDefault("connect", "127.0.0.1:2181");
        int outstanding = Integer.parseInt(o.getOrDefault("outstanding", "256"));
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(connect, 30000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) connected.countDown();
        });
        if (!connected.await(30, TimeUnit.SECONDS)) throw new RuntimeException("connect timeout");

        long t0 = System.nanoTime();
        List<String> topics = zk.getChildren("/brokers/topics", false);
        List<String> states = new ArrayList<>();
        for (String t : topics) {
            for (String p : zk.getChildren("/brokers/topics/" + t + "/partitions", false)) {
                states.add("/brokers/topics/" + t + "/partitions/" + p + "/state");
            }
        }
        long listed = System.nanoTime();
        Semaphore sem = new Semaphore(outstanding);
        AtomicLong bytes = new AtomicLong(), errors = new AtomicLong();
        CountDownLatch done = new CountDownLatch(states.size());
        for (String path : states) {
            sem.acquire();
            zk.getData(path, false, (rc, p, ctx, data, stat) -> {
                if (rc == 0) bytes.addAndGet(data.length); else errors.incrementAndGet();
                sem.release();
                done.countDown();
            }, null);
        }
        done.await();
        long end = System.nanoTime();
        System.out.println("zk_reload_topics: " + topics.size());
        System.out.println("zk_reload_partitions: " + states.size());
        System.out.println("zk_reload_state_bytes: " + bytes.get());
        System.out.println("zk_reload_errors: " + errors.get());
        System.out.printf("zk_reload_list_s: %.3f%n", (listed - t0) / 1e9);
        System.out.printf("zk_reload_s: %.3f%n", (end - t0) / 1e9);
        zk.close();
    }
}
